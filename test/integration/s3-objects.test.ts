import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { seededBytes, sha256 } from "../support/bodies";
import { s3Client, s3ErrorCode } from "../support/s3";

// The S3 endpoint of a real cluster driven by the AWS SDK for JavaScript v3: objects.

let cluster: TestCluster;
let s3: S3Client;
const BUCKET = "default";

beforeAll(async () => {
  cluster = await startCluster({ env: { MINIS3_MAX_OBJECT_SIZE: "8MiB" } });
  s3 = s3Client(cluster);
}, 90_000);
afterAll(async () => {
  s3?.destroy();
  await cluster?.stop();
}, 30_000);

async function bytesOf(body: unknown): Promise<Buffer> {
  return Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

test("PutObject then GetObject and HeadObject return the bytes, ETag, type and metadata", async () => {
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
  expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "dir/a b+c.bin" }));
  expect(sha256(await bytesOf(got.Body))).toBe(sha256(body));
  expect(got.ETag).toBe(put.ETag);
  expect(got.ContentType).toBe("application/x-test");
  expect(got.Metadata).toEqual({ color: "blue" });
  expect(got.StorageClass ?? "STANDARD").toBe("STANDARD");
  const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "dir/a b+c.bin" }));
  expect(head.ContentLength).toBe(body.length);
  expect(head.ETag).toBe(put.ETag);
});

test("a wrong secret is refused with 403 SignatureDoesNotMatch and stores nothing", async () => {
  const bad = s3Client(cluster, { credentials: { accessKeyId: cluster.accessKey, secretAccessKey: "not-the-secret" } });
  try {
    expect(await s3ErrorCode(bad.send(new PutObjectCommand({ Bucket: BUCKET, Key: "forged", Body: "x" })))).toBe("SignatureDoesNotMatch");
  } finally {
    bad.destroy();
  }
  expect(await s3ErrorCode(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "forged" })))).toBe("NotFound");
});

test("DeleteObject removes the object and succeeds for a missing key", async () => {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "gone", Body: "bye" }));
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "gone" }));
  expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "gone" })))).toBe("NoSuchKey");
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "never-there" }));
});
