import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createReadStream, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { hashedAsSent, hashStream, seededBytes, seededStream, sha256 } from "../support/bodies";
import { scrape, total } from "../support/prometheus";
import { s3Client, s3ErrorCode } from "../support/s3";

// Multipart upload on the S3 endpoint of a real cluster, driven by the AWS SDK for JavaScript v3
// (lib-storage's Upload and the plain commands) and by the aws cli when it is installed.

const MiB = 1024 * 1024;
const BUCKET = "multipart-test";
let cluster: TestCluster;
let s3: S3Client;

beforeAll(async () => {
  cluster = await startCluster();
  s3 = s3Client(cluster);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 90_000);
afterAll(async () => {
  s3?.destroy();
  await cluster?.stop();
}, 30_000);

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
/** S3's multipart ETag of parts with these bytes. */
const multipartEtag = (parts: Buffer[]) =>
  `"${createHash("md5")
    .update(Buffer.concat(parts.map((p) => Buffer.from(md5(p), "hex"))))
    .digest("hex")}-${parts.length}"`;

/** A process's peak resident memory so far (VmHWM), in bytes. */
async function peakRss(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}
const mib = (bytes: number) => Math.round(bytes / MiB);

/** Calls the storage nodes answered, of one NodeService operation, over all of them. */
async function nodeCalls(op: string): Promise<number> {
  let n = 0;
  for (const spec of cluster.specs.filter((s) => s.name.startsWith("storage-")))
    n += total(await scrape(`http://127.0.0.1:${spec.metricsPort}`), "minis3_requests_total", { door: "node", op });
  return n;
}

test("lib-storage's Upload of a 105 MiB stream: read back byte-exact, with a multipart ETag", async () => {
  const size = 105 * MiB;
  const sent = hashedAsSent(seededStream("mp-upload", size, MiB));
  const upload = new Upload({
    client: s3,
    params: { Bucket: BUCKET, Key: "big/105MiB.bin", Body: sent.stream },
    partSize: 5 * MiB,
    queueSize: 4,
  });
  let allSentAt = 0;
  upload.on("httpUploadProgress", (p) => {
    if (p.loaded === size) allSentAt = performance.now();
  });
  const peakBefore = await peakRss(cluster.pid("coordinator"));
  const [composedBefore, readBefore] = [await nodeCalls("ComposeBlob"), await nodeCalls("ReadBlob")];
  const started = performance.now();
  const done = await upload.done();
  const finished = performance.now();
  // Complete had the two nodes of the key compose the object from their copies of the parts: no
  // part was read through the coordinator (a read of a part is a node's ReadBlob).
  expect(await nodeCalls("ComposeBlob")).toBe(composedBefore + 2);
  expect(await nodeCalls("ReadBlob")).toBe(readBefore);
  // The last part acknowledged, then the Complete: the nodes composing the object from the parts.
  process.stdout.write(
    `multipart: 105 MiB in 21 parts uploaded in ${Math.round(finished - started)} ms, Complete took ~${Math.round(finished - allSentAt)} ms\n`,
  );
  const peakAfter = await peakRss(cluster.pid("coordinator"));
  process.stdout.write(`multipart: coordinator peak RSS ${mib(peakBefore)} MiB before, ${mib(peakAfter)} MiB after\n`);
  expect(done.ETag).toMatch(/^"[0-9a-f]{32}-21"$/);
  const digest = await sent.digest;
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "big/105MiB.bin" }));
  expect(got.ETag).toBe(done.ETag);
  expect(got.ContentLength).toBe(size);
  expect(await hashStream(got.Body as AsyncIterable<Uint8Array>)).toEqual(digest);
  expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "big/" }))).Uploads ?? []).toEqual([]);
}, 300_000);

test("parts uploaded, replaced and listed in pages; a bad part list is refused; Complete makes the object", async () => {
  const key = "manual/object.bin";
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ContentType: "application/x-parts", Metadata: { origin: "test" } }),
  );
  const ref = { Bucket: BUCKET, Key: key, UploadId: UploadId! };
  const parts = [seededBytes("p1", 5 * MiB), seededBytes("p2", 5 * MiB), seededBytes("p3", 1000)];
  const put = (n: number, body: Buffer) => s3.send(new UploadPartCommand({ ...ref, PartNumber: n, Body: body }));
  expect((await put(1, parts[0])).ETag).toBe(`"${md5(parts[0])}"`);
  await put(2, seededBytes("replaced", 5 * MiB));
  expect((await put(2, parts[1])).ETag).toBe(`"${md5(parts[1])}"`);
  await put(3, parts[2]);
  await put(4, seededBytes("p4", 10));

  const page1 = await s3.send(new ListPartsCommand({ ...ref, MaxParts: 2 }));
  expect(page1.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
    [1, 5 * MiB, `"${md5(parts[0])}"`],
    [2, 5 * MiB, `"${md5(parts[1])}"`],
  ]);
  expect(page1.IsTruncated).toBe(true);
  const page2 = await s3.send(new ListPartsCommand({ ...ref, PartNumberMarker: page1.NextPartNumberMarker }));
  expect(page2.Parts?.map((p) => p.PartNumber)).toEqual([3, 4]);
  expect(page2.IsTruncated).toBe(false);

  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "manual/" }));
  expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[key, UploadId]]);

  const etags = [md5(parts[0]), md5(parts[1]), md5(parts[2])].map((e) => `"${e}"`);
  const complete = (list: { PartNumber: number; ETag: string }[]) =>
    s3.send(new CompleteMultipartUploadCommand({ ...ref, MultipartUpload: { Parts: list } }));
  expect(await s3ErrorCode(complete([{ PartNumber: 1, ETag: etags[1] }]))).toBe("InvalidPart");
  expect(await s3ErrorCode(complete([{ PartNumber: 9, ETag: etags[0] }]))).toBe("InvalidPart");
  expect(
    await s3ErrorCode(
      complete([
        { PartNumber: 2, ETag: etags[1] },
        { PartNumber: 1, ETag: etags[0] },
      ]),
    ),
  ).toBe("InvalidPartOrder");
  expect(
    await s3ErrorCode(
      complete([
        { PartNumber: 3, ETag: etags[2] },
        { PartNumber: 4, ETag: `"${md5(seededBytes("p4", 10))}"` },
      ]),
    ),
  ).toBe("EntityTooSmall");
  expect(await s3ErrorCode(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })))).toBe("NotFound");

  const done = await complete(etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })));
  expect(done.ETag).toBe(multipartEtag(parts));
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  expect((await hashStream(got.Body as AsyncIterable<Uint8Array>)).sha256).toBe(sha256(Buffer.concat(parts)));
  expect(got.ContentType).toBe("application/x-parts");
  expect(got.Metadata).toEqual({ origin: "test" });
  expect(got.ETag).toBe(done.ETag);
  // Part 4 was not named: gone with the upload, which no listing shows any more.
  expect(await s3ErrorCode(s3.send(new ListPartsCommand(ref)))).toBe("NoSuchUpload");
  expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "manual/" }))).Uploads ?? []).toEqual([]);
}, 120_000);

test("a bucket that does not exist: NoSuchBucket for Create and ListMultipartUploads", async () => {
  expect(await s3ErrorCode(s3.send(new CreateMultipartUploadCommand({ Bucket: "no-such-bucket", Key: "k" })))).toBe("NoSuchBucket");
  expect(await s3ErrorCode(s3.send(new ListMultipartUploadsCommand({ Bucket: "no-such-bucket" })))).toBe("NoSuchBucket");
});

test("ListMultipartUploads pages by key and upload id; Abort removes an upload and its parts", async () => {
  const ids: string[] = [];
  for (const key of ["list/a", "list/a", "list/b"]) {
    ids.push((await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }))).UploadId!);
  }
  const first = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "list/", MaxUploads: 2 }));
  expect(first.IsTruncated).toBe(true);
  expect(first.Uploads?.map((u) => u.Key)).toEqual(["list/a", "list/a"]);
  const rest = await s3.send(
    new ListMultipartUploadsCommand({
      Bucket: BUCKET,
      Prefix: "list/",
      KeyMarker: first.NextKeyMarker,
      UploadIdMarker: first.NextUploadIdMarker,
    }),
  );
  expect(rest.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([["list/b", ids[2]]]);

  const ref = { Bucket: BUCKET, Key: "list/b", UploadId: ids[2] };
  await s3.send(new UploadPartCommand({ ...ref, PartNumber: 1, Body: seededBytes("abort", 1000) }));
  await s3.send(new AbortMultipartUploadCommand(ref));
  expect(await s3ErrorCode(s3.send(new ListPartsCommand(ref)))).toBe("NoSuchUpload");
  expect(await s3ErrorCode(s3.send(new UploadPartCommand({ ...ref, PartNumber: 2, Body: "x" })))).toBe("NoSuchUpload");
  expect(await s3ErrorCode(s3.send(new AbortMultipartUploadCommand(ref)))).toBe("NoSuchUpload");
  const left = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "list/" }));
  expect(left.Uploads?.map((u) => u.UploadId).sort()).toEqual([ids[0], ids[1]].sort());
  for (const id of ids.slice(0, 2)) await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: "list/a", UploadId: id }));
});

test("UploadPartCopy takes parts from an existing object, a byte range or whole", async () => {
  const source = seededBytes("copy-source", 6 * MiB);
  const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "copy/source", Body: source }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "copy/target" }));
  const ref = { Bucket: BUCKET, Key: "copy/target", UploadId: UploadId! };
  const ranged = await s3.send(
    new UploadPartCopyCommand({
      ...ref,
      PartNumber: 1,
      CopySource: `${BUCKET}/copy/source`,
      CopySourceRange: `bytes=100-${100 + 5 * MiB - 1}`,
    }),
  );
  expect(ranged.CopyPartResult?.ETag).toBe(`"${md5(source.subarray(100, 100 + 5 * MiB))}"`);
  const whole = await s3.send(
    new UploadPartCopyCommand({ ...ref, PartNumber: 2, CopySource: `/${BUCKET}/copy%2Fsource?versionId=${put.VersionId}` }),
  );
  expect(whole.CopyPartResult?.ETag).toBe(`"${md5(source)}"`);
  await s3.send(
    new CompleteMultipartUploadCommand({
      ...ref,
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: ranged.CopyPartResult!.ETag },
          { PartNumber: 2, ETag: whole.CopyPartResult!.ETag },
        ],
      },
    }),
  );
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "copy/target" }));
  expect((await hashStream(got.Body as AsyncIterable<Uint8Array>)).sha256).toBe(
    sha256(Buffer.concat([source.subarray(100, 100 + 5 * MiB), source])),
  );
  expect(await s3ErrorCode(s3.send(new UploadPartCopyCommand({ ...ref, PartNumber: 1, CopySource: `${BUCKET}/copy/missing` })))).toBe(
    "NoSuchUpload",
  );
}, 60_000);

const execAws = promisify(execFile);
const hasAws = () =>
  execAws("aws", ["--version"]).then(
    () => true,
    () => false,
  );

test("aws s3 cp of a 40 MiB file goes up in parts and comes down byte-exact", async () => {
  if (!(await hasAws())) {
    process.stdout.write("aws cli not installed: skipping the aws s3 cp test\n");
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "minis3-aws-"));
  try {
    const env = {
      ...process.env,
      HOME: dir,
      AWS_ACCESS_KEY_ID: cluster.accessKey,
      AWS_SECRET_ACCESS_KEY: cluster.secretKey,
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_CONFIG_FILE: join(dir, "config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
    };
    const aws = (...args: string[]) => execAws("aws", ["--endpoint-url", cluster.s3Url, ...args], { env, maxBuffer: 16 * MiB });
    const up = join(dir, "up.bin");
    await pipeline(seededStream("aws-cp", 40 * MiB, MiB), createWriteStream(up));
    await aws("s3", "cp", up, `s3://${BUCKET}/aws/big.bin`);
    const head = JSON.parse((await aws("s3api", "head-object", "--bucket", BUCKET, "--key", "aws/big.bin")).stdout);
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-\d+"$/); // the cli's default threshold and part size: 8 MiB
    const down = join(dir, "down.bin");
    await aws("s3", "cp", `s3://${BUCKET}/aws/big.bin`, down);
    expect((await hashStream(createReadStream(down))).sha256).toBe((await hashStream(createReadStream(up))).sha256);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 180_000);
