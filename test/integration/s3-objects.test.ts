import { request as httpRequest } from "node:http";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";
import { createHash } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { seededBytes, sha256 } from "../support/bodies";
import { signedFetch } from "../support/http";
import { s3Client, s3ErrorCode, s3ErrorStatus } from "../support/s3";

// The S3 endpoint of a real cluster driven by the AWS SDK for JavaScript v3: buckets and objects,
// the signature refused in every wrong form, and S3's error codes.

let cluster: TestCluster;
let s3: S3Client;
const BUCKET = "photos";

beforeAll(async () => {
  cluster = await startCluster({ env: { MINIS3_MAX_OBJECT_SIZE: "8MiB", MINIS3_S3_DOMAIN: "s3.test" } });
  s3 = s3Client(cluster);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 90_000);
afterAll(async () => {
  s3?.destroy();
  await cluster?.stop();
}, 30_000);

/** The SDK's signer with the cluster's key: requests signed as a client signs them, sent as the test writes them. */
const clusterSigner = () =>
  new SignatureV4({
    service: "s3",
    region: "us-east-1",
    sha256: Sha256,
    credentials: { accessKeyId: cluster.accessKey, secretAccessKey: cluster.secretKey },
  });

async function bytesOf(body: unknown): Promise<Buffer> {
  return Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function text(bucket: string, key: string, extra: Partial<ConstructorParameters<typeof GetObjectCommand>[0]> = {}) {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  return { got, body: (await bytesOf(got.Body)).toString() };
}

/** A PUT signed with the cluster's key, `headers` (x-amz-content-sha256 among them) signed with it. */
async function signedPut(path: string, query: Record<string, string>, sent: Buffer, headers: Record<string, string>) {
  const url = new URL(`${cluster.s3Url}${path}`);
  for (const [n, v] of Object.entries(query)) url.searchParams.set(n, v);
  const signed = await clusterSigner().sign({
    method: "PUT",
    protocol: "http:",
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query,
    headers: { host: url.host, "content-length": String(sent.length), ...headers },
  });
  const res = await fetch(url, { method: "PUT", headers: signed.headers, body: sent });
  return { status: res.status, text: await res.text(), etag: res.headers.get("etag") };
}

describe("buckets", () => {
  test("CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, DeleteBucket", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "made-here" }));
    await s3.send(new HeadBucketCommand({ Bucket: "made-here" }));
    const list = await s3.send(new ListBucketsCommand({}));
    expect(list.Buckets!.map((b) => b.Name)).toEqual(expect.arrayContaining(["made-here", BUCKET]));
    expect(list.Buckets!.find((b) => b.Name === "made-here")!.CreationDate).toBeInstanceOf(Date);
    const location = await s3.send(new GetBucketLocationCommand({ Bucket: "made-here" }));
    expect(location.LocationConstraint ?? "").toBe(""); // us-east-1, as S3 says it
    await s3.send(new DeleteBucketCommand({ Bucket: "made-here" }));
    expect(await s3ErrorStatus(s3.send(new HeadBucketCommand({ Bucket: "made-here" })))).toBe(404);
  });

  test("error codes: BucketAlreadyOwnedByYou, InvalidBucketName, NoSuchBucket, BucketNotEmpty", async () => {
    expect(await s3ErrorCode(s3.send(new CreateBucketCommand({ Bucket: BUCKET })))).toBe("BucketAlreadyOwnedByYou");
    expect(await s3ErrorCode(s3.send(new CreateBucketCommand({ Bucket: "bad..name" })))).toBe("InvalidBucketName");
    expect(await s3ErrorCode(s3.send(new CreateBucketCommand({ Bucket: "192.168.1.1" })))).toBe("InvalidBucketName");
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: "no-such-bucket", Key: "k" })))).toBe("NoSuchBucket");
    expect(await s3ErrorCode(s3.send(new PutObjectCommand({ Bucket: "no-such-bucket", Key: "k", Body: "x" })))).toBe("NoSuchBucket");
    expect(await s3ErrorCode(s3.send(new DeleteBucketCommand({ Bucket: "no-such-bucket" })))).toBe("NoSuchBucket");
    await s3.send(new CreateBucketCommand({ Bucket: "full-one" }));
    await s3.send(new PutObjectCommand({ Bucket: "full-one", Key: "k", Body: "x" }));
    expect(await s3ErrorCode(s3.send(new DeleteBucketCommand({ Bucket: "full-one" })))).toBe("BucketNotEmpty");
    // Emptied (the deleted object waits in the trash), it deletes.
    await s3.send(new DeleteObjectCommand({ Bucket: "full-one", Key: "k" }));
    await s3.send(new DeleteBucketCommand({ Bucket: "full-one" }));
    // The upload above saw the bucket a moment ago; deleted here, it is gone for the next upload at once.
    expect(await s3ErrorCode(s3.send(new PutObjectCommand({ Bucket: "full-one", Key: "k2", Body: "x" })))).toBe("NoSuchBucket");
  });

  test("an upload through the facade to a new bucket makes the bucket S3 lists", async () => {
    const res = await signedFetch(`${cluster.httpUrl}/upload?bucket=from-facade&key=k`, { method: "POST", body: "via facade" });
    expect(res.status).toBe(201);
    const list = await s3.send(new ListBucketsCommand({}));
    expect(list.Buckets!.map((b) => b.Name)).toContain("from-facade");
    expect((await text("from-facade", "k")).body).toBe("via facade");
  });
});

describe("objects", () => {
  test("PutObject then GetObject and HeadObject return the bytes, ETag, type, metadata and storage class", async () => {
    const body = seededBytes("s3-put", 300_000);
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "dir/a b+c.bin",
        Body: body,
        ContentType: "application/x-test",
        Metadata: { color: "blue" },
      }),
    );
    expect(put.ETag).toBe(`"${createHash("md5").update(body).digest("hex")}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "dir/a b+c.bin" }));
    expect(sha256(await bytesOf(got.Body))).toBe(sha256(body));
    expect(got.ETag).toBe(put.ETag);
    expect(got.ContentType).toBe("application/x-test");
    expect(got.Metadata).toEqual({ color: "blue" });
    expect(got.StorageClass).toBe("STANDARD");
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "dir/a b+c.bin" }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ETag).toBe(put.ETag);
  });

  test("checksums: the SDK's CRC32 trailer and a SHA256 header are checked and echoed; a wrong Content-MD5 is BadDigest and stores nothing", async () => {
    const body = Buffer.from("checksummed body");
    const crc = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "crc", Body: body, ChecksumAlgorithm: "CRC32" }));
    expect(crc.ChecksumCRC32).toBeDefined();
    const want = createHash("sha256").update(body).digest("base64");
    const sha = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "sha", Body: body, ChecksumSHA256: want }));
    expect(sha.ChecksumSHA256).toBe(want);
    const wrong = createHash("md5").update("other").digest("base64");
    expect(await s3ErrorCode(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "md5-bad", Body: body, ContentMD5: wrong })))).toBe(
      "BadDigest",
    );
    expect(await s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "md5-bad" })))).toBe(404);
    const badSha = createHash("sha256").update("other").digest("base64");
    expect(await s3ErrorCode(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "sha-bad", Body: body, ChecksumSHA256: badSha })))).toBe(
      "BadDigest",
    );
    expect(await s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "sha-bad" })))).toBe(404);
  });

  test("Range: 206 with the bytes asked for; past the end 416 InvalidRange", async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "digits", Body: "0123456789" }));
    const { got, body } = await text(BUCKET, "digits", { Range: "bytes=2-5" });
    expect(body).toBe("2345");
    expect(got.ContentRange).toBe("bytes 2-5/10");
    expect((await text(BUCKET, "digits", { Range: "bytes=-3" })).body).toBe("789");
    expect(await s3ErrorStatus(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "digits", Range: "bytes=20-30" })))).toBe(416);
  });

  test("conditional GET: If-Match / If-Unmodified-Since → 412, If-None-Match / If-Modified-Since → 304", async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "cond", Body: "conditional" }));
    const etag = put.ETag!;
    const past = new Date(Date.now() - 3600_000);
    const future = new Date(Date.now() + 3600_000);
    expect((await text(BUCKET, "cond", { IfMatch: etag })).body).toBe("conditional");
    expect(await s3ErrorStatus(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "cond", IfMatch: '"0000"' })))).toBe(412);
    expect(await s3ErrorStatus(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "cond", IfUnmodifiedSince: past })))).toBe(412);
    expect(await s3ErrorStatus(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "cond", IfNoneMatch: etag })))).toBe(304);
    expect(await s3ErrorStatus(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "cond", IfModifiedSince: future })))).toBe(304);
    expect((await text(BUCKET, "cond", { IfModifiedSince: past })).body).toBe("conditional");
    expect(await s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "cond", IfMatch: '"0000"' })))).toBe(412);
  });

  test("response-* overrides replace the GET's headers", async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "over", Body: "x", ContentType: "text/plain" }));
    const { got } = await text(BUCKET, "over", {
      ResponseContentType: "application/json",
      ResponseContentDisposition: 'attachment; filename="x.json"',
      ResponseCacheControl: "no-cache",
    });
    expect(got.ContentType).toBe("application/json");
    expect(got.ContentDisposition).toBe('attachment; filename="x.json"');
    expect(got.CacheControl).toBe("no-cache");
  });

  test("DeleteObject removes the object and answers 204 for a missing key too", async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "gone", Body: "bye" }));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "gone" }));
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "gone" })))).toBe("NoSuchKey");
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "never-there" }));
  });

  test("DeleteObjects deletes many keys (missing ones count as deleted); Quiet lists only failures", async () => {
    for (const k of ["m/1", "m/2", "m/&3<"]) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: k }));
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: "m/1" }, { Key: "m/&3<" }, { Key: "m/none" }] } }),
    );
    expect(out.Deleted!.map((d) => d.Key).sort()).toEqual(["m/&3<", "m/1", "m/none"]);
    // Each delete made a delete marker (the trashed version's id + ".deleted"), as S3 reports it; none for a key not there.
    const marked = Object.fromEntries(out.Deleted!.map((d) => [d.Key, [d.DeleteMarker, d.DeleteMarkerVersionId?.endsWith(".deleted")]]));
    expect(marked).toEqual({ "m/1": [true, true], "m/&3<": [true, true], "m/none": [undefined, undefined] });
    expect(out.Errors ?? []).toEqual([]);
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "m/&3<" })))).toBe("NoSuchKey");
    expect((await text(BUCKET, "m/2")).body).toBe("m/2");
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Quiet: true, Objects: [{ Key: "m/2" }] } }));
    expect(quiet.Deleted ?? []).toEqual([]);
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "m/2" })))).toBe("NoSuchKey");
  });

  test("CopyObject copies bytes and metadata (COPY) or takes the request's (REPLACE); a failed source condition is 412", async () => {
    const body = seededBytes("copy-src", 200_000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "src", Body: body, ContentType: "image/png", Metadata: { a: "1" } }));
    await s3.send(new CreateBucketCommand({ Bucket: "copies" }));
    const copied = await s3.send(new CopyObjectCommand({ Bucket: "copies", Key: "dst", CopySource: `${BUCKET}/src` }));
    expect(copied.CopyObjectResult!.ETag).toBe(`"${createHash("md5").update(body).digest("hex")}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: "copies", Key: "dst" }));
    expect(sha256(await bytesOf(got.Body))).toBe(sha256(body));
    expect(got.ContentType).toBe("image/png");
    expect(got.Metadata).toEqual({ a: "1" });
    await s3.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: "src",
        CopySource: `${BUCKET}/src`,
        MetadataDirective: "REPLACE",
        Metadata: { b: "2" },
        ContentType: "text/plain",
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "src" }));
    expect(head.Metadata).toEqual({ b: "2" });
    expect(head.ContentType).toBe("text/plain");
    expect(await s3ErrorCode(s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: "src", CopySource: `${BUCKET}/src` })))).toBe(
      "InvalidRequest",
    );
    expect(
      await s3ErrorCode(
        s3.send(new CopyObjectCommand({ Bucket: "copies", Key: "dst2", CopySource: `${BUCKET}/src`, CopySourceIfMatch: '"0000"' })),
      ),
    ).toBe("PreconditionFailed");
    expect(await s3ErrorCode(s3.send(new CopyObjectCommand({ Bucket: "copies", Key: "dst3", CopySource: `${BUCKET}/nothing` })))).toBe(
      "NoSuchKey",
    );
  });
});

describe("signatures", () => {
  test("a wrong secret is refused with 403 SignatureDoesNotMatch and stores nothing", async () => {
    const bad = s3Client(cluster, { credentials: { accessKeyId: cluster.accessKey, secretAccessKey: "not-the-secret" } });
    try {
      expect(await s3ErrorCode(bad.send(new PutObjectCommand({ Bucket: BUCKET, Key: "forged", Body: "x" })))).toBe("SignatureDoesNotMatch");
      expect(await s3ErrorStatus(bad.send(new ListBucketsCommand({})))).toBe(403);
    } finally {
      bad.destroy();
    }
    expect(await s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "forged" })))).toBe(404);
  });

  test("an unknown access key is InvalidAccessKeyId; an unsigned request AccessDenied", async () => {
    const stranger = s3Client(cluster, { credentials: { accessKeyId: "nobody-here", secretAccessKey: "whatever-secret" } });
    try {
      expect(await s3ErrorCode(stranger.send(new ListBucketsCommand({})))).toBe("InvalidAccessKeyId");
    } finally {
      stranger.destroy();
    }
    const res = await fetch(`${cluster.s3Url}/${BUCKET}/forged`, { method: "PUT", body: "x" });
    expect(res.status).toBe(403);
    const xml = await res.text();
    expect(xml).toContain("<Code>AccessDenied</Code>");
    expect(xml).toContain("<RequestId>");
    expect(xml).toContain(`<Resource>/${BUCKET}/forged</Resource>`);
  });

  test("a request signed 20 minutes off the server's clock is RequestTimeTooSkewed and stores nothing", async () => {
    const skewed = s3Client(cluster, { systemClockOffset: -20 * 60_000 });
    try {
      expect(await s3ErrorCode(skewed.send(new PutObjectCommand({ Bucket: BUCKET, Key: "skewed", Body: "x" })))).toBe(
        "RequestTimeTooSkewed",
      );
    } finally {
      skewed.destroy();
    }
    expect(await s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "skewed" })))).toBe(404);
  });

  test("presigned PUT and GET work; an expired or tampered presigned URL is 403", async () => {
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: "presigned" }), { expiresIn: 60 });
    const put = await fetch(putUrl, { method: "PUT", body: "sent by URL" });
    expect(put.status).toBe(200);
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: "presigned" }), { expiresIn: 60 });
    const got = await fetch(getUrl);
    expect(await got.text()).toBe("sent by URL");
    const tampered = await fetch(getUrl.replace("presigned", "presignee"));
    expect(tampered.status).toBe(403);
    const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: "presigned" }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 3600_000),
    });
    const res = await fetch(expired);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("expired");
  });

  test("a Content-MD5 is checked on an UNSIGNED-PAYLOAD body too, small, large or a part: wrong is BadDigest, malformed InvalidDigest, nothing stored", async () => {
    const md5 = (b: Buffer) => createHash("md5").update(b).digest("base64");
    const put = (path: string, query: Record<string, string>, sent: Buffer, contentMd5: string) =>
      signedPut(path, query, sent, { "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-md5": contentMd5 });
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "md5-parts" }));
    const targets: [string, Record<string, string>, () => Promise<number | undefined>][] = [
      [`/${BUCKET}/md5-object`, {}, () => s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "md5-object" })))],
      [
        `/${BUCKET}/md5-parts`,
        { partNumber: "1", uploadId: UploadId! },
        async () => ((await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: "md5-parts", UploadId }))).Parts ?? []).length,
      ],
    ];
    for (const [path, query, stored] of targets) {
      for (const size of [5_000, 1_500_000]) {
        const body = seededBytes(`md5-${size}`, size);
        const wrong = await put(path, query, body, md5(Buffer.from("other")));
        expect([path, size, wrong.status, /<Code>BadDigest<\/Code>/.test(wrong.text)]).toEqual([path, size, 400, true]);
        const malformed = await put(path, query, body, "AAAA");
        expect([path, size, malformed.status, /<Code>InvalidDigest<\/Code>/.test(malformed.text)]).toEqual([path, size, 400, true]);
        expect([path, size, await stored()]).toEqual([path, size, path.endsWith("parts") ? 0 : 404]);
      }
      const body = seededBytes("md5-good", 1_500_000);
      const good = await put(path, query, body, md5(body));
      expect([path, good.status, good.etag]).toEqual([path, 200, `"${createHash("md5").update(body).digest("hex")}"`]);
    }
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: "md5-parts", UploadId }));
  });

  test("a body other than the one its x-amz-content-sha256 signs is XAmzContentSHA256Mismatch and stores nothing, small, large or a part", async () => {
    // The signed sha256 is checked by the engine against the digest it makes of every upload (the body is
    // hashed once): before the copies of a small body, after those of a large one, which it then drops.
    const put = (path: string, query: Record<string, string>, sent: Buffer, signedFor: Buffer) =>
      signedPut(path, query, sent, { "x-amz-content-sha256": sha256(signedFor) });
    for (const size of [5_000, 1_500_000]) {
      const body = seededBytes(`signed-${size}`, size);
      const other = Buffer.from(body);
      other[size >> 1] ^= 0xff;
      const refused = await put(`/${BUCKET}/signed-${size}`, {}, other, body);
      expect([size, refused.status]).toEqual([size, 400]);
      expect(refused.text).toContain("<Code>XAmzContentSHA256Mismatch</Code>");
      expect(await s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `signed-${size}` })))).toBe(404);
      expect((await put(`/${BUCKET}/signed-${size}`, {}, body, body)).status).toBe(200);
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `signed-${size}` }));
      expect(sha256(await bytesOf(got.Body))).toBe(sha256(body));
    }
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "signed-parts" }));
    const part = seededBytes("signed-part", 1_500_000);
    const wrongPart = Buffer.from(part);
    wrongPart[0] ^= 0xff;
    const refusedPart = await put(`/${BUCKET}/signed-parts`, { partNumber: "1", uploadId: UploadId! }, wrongPart, part);
    expect(refusedPart.status).toBe(400);
    expect(refusedPart.text).toContain("<Code>XAmzContentSHA256Mismatch</Code>");
    expect((await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: "signed-parts", UploadId }))).Parts ?? []).toEqual([]);
    const stored = await put(`/${BUCKET}/signed-parts`, { partNumber: "1", uploadId: UploadId! }, part, part);
    expect(stored.status).toBe(200);
    expect(stored.etag).toBe(`"${createHash("md5").update(part).digest("hex")}"`);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: "signed-parts", UploadId }));
  });

  test("virtual-host style: the bucket in the Host header (MINIS3_S3_DOMAIN)", async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "vhost.txt", Body: "by host" }));
    const port = Number(new URL(cluster.s3Url).port);
    const signer = clusterSigner();
    const signed = await signer.sign({
      method: "GET",
      protocol: "http:",
      hostname: `${BUCKET}.s3.test`,
      port,
      path: "/vhost.txt",
      headers: { host: `${BUCKET}.s3.test:${port}`, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
    });
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/vhost.txt", method: "GET", headers: signed.headers }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => resolve(`${res.statusCode} ${Buffer.concat(parts).toString()}`));
      });
      req.on("error", reject);
      req.end();
    });
    expect(body).toBe("200 by host");
  });
});
