import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { s3Client, s3ErrorCode } from "../support/s3";

// The S3 endpoint's listings on a real cluster: ListObjectsV2 and ListObjects (prefix, delimiter
// rollup, pages), and ListObjectVersions with GetObject by versionId (the S3 face of the trash).

let cluster: TestCluster;
let s3: S3Client;
const BUCKET = "listed";
const KEYS = ["a.txt", "b/1", "b/2", "b/3", "c/x/1", "c/y", "d+e f", "z"];

beforeAll(async () => {
  cluster = await startCluster();
  s3 = s3Client(cluster);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const key of KEYS) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
}, 120_000);
afterAll(async () => {
  s3?.destroy();
  await cluster?.stop();
}, 30_000);

test("ListObjectsV2 lists every key in order with sizes and ETags", async () => {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  expect(page.Contents!.map((o) => o.Key)).toEqual(KEYS);
  expect(page.KeyCount).toBe(KEYS.length);
  expect(page.IsTruncated).toBe(false);
  expect(page.Contents![0].Size).toBe(5);
  expect(page.Contents![0].ETag).toMatch(/^"[0-9a-f]{32}"$/);
});

test("ListObjectsV2 with a delimiter rolls keys up into CommonPrefixes, and pages through them by token", async () => {
  const all = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: "/" }));
  expect(all.Contents!.map((o) => o.Key)).toEqual(["a.txt", "d+e f", "z"]);
  expect(all.CommonPrefixes!.map((p) => p.Prefix)).toEqual(["b/", "c/"]);
  expect(all.KeyCount).toBe(5);

  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: "/", MaxKeys: 2, ContinuationToken: token }));
    seen.push(...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    pages++;
  } while (token);
  expect(seen.sort()).toEqual(["a.txt", "b/", "c/", "d+e f", "z"]);
  expect(pages).toBe(3);

  const inC = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "c/", Delimiter: "/" }));
  expect(inC.Contents!.map((o) => o.Key)).toEqual(["c/y"]);
  expect(inC.CommonPrefixes!.map((p) => p.Prefix)).toEqual(["c/x/"]);
});

test("ListObjectsV2 start-after, and encoding-type=url", async () => {
  const after = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, StartAfter: "b/2" }));
  expect(after.Contents!.map((o) => o.Key)).toEqual(["b/3", "c/x/1", "c/y", "d+e f", "z"]);
  // The JavaScript SDK hands url-encoded keys back as sent (botocore decodes them).
  const encoded = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "d", EncodingType: "url" }));
  expect(encoded.Contents!.map((o) => o.Key)).toEqual(["d%2Be%20f"]);
  expect(decodeURIComponent(encoded.Contents![0].Key!)).toBe("d+e f");
});

test("ListObjects (V1) pages by marker, with NextMarker under a delimiter", async () => {
  const first = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, MaxKeys: 3 }));
  expect(first.Contents!.map((o) => o.Key)).toEqual(["a.txt", "b/1", "b/2"]);
  expect(first.IsTruncated).toBe(true);
  const second = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, MaxKeys: 3, Marker: "b/2" }));
  expect(second.Contents!.map((o) => o.Key)).toEqual(["b/3", "c/x/1", "c/y"]);
  const grouped = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Delimiter: "/", MaxKeys: 2 }));
  expect(grouped.CommonPrefixes!.map((p) => p.Prefix)).toEqual(["b/"]);
  expect(grouped.NextMarker).toBe("b/");
  const rest = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Delimiter: "/", Marker: grouped.NextMarker }));
  expect(rest.Contents!.map((o) => o.Key)).toEqual(["d+e f", "z"]);
  expect(rest.CommonPrefixes!.map((p) => p.Prefix)).toEqual(["c/"]);
});

test("listing a bucket that does not exist is NoSuchBucket", async () => {
  expect(await s3ErrorCode(s3.send(new ListObjectsV2Command({ Bucket: "not-a-bucket" })))).toBe("NoSuchBucket");
});

test("ListObjectVersions shows overwritten and deleted versions (behind a delete marker); GetObject by versionId reads them", async () => {
  const v1 = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "v/doc", Body: "first" }));
  const v2 = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "v/doc", Body: "second" }));
  const g1 = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "v/gone", Body: "deleted one" }));
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "v/gone" }));

  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: "v/" }));
  const versions = listed.Versions!.map((v) => [v.Key, v.VersionId, v.IsLatest]);
  expect(versions).toEqual([
    ["v/doc", v2.VersionId, true],
    ["v/doc", v1.VersionId, false],
    ["v/gone", g1.VersionId, false],
  ]);
  expect(listed.DeleteMarkers!.map((m) => [m.Key, m.IsLatest])).toEqual([["v/gone", true]]);

  const old = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "v/doc", VersionId: v1.VersionId }));
  expect(await old.Body!.transformToString()).toBe("first");
  const gone = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "v/gone", VersionId: g1.VersionId }));
  expect(await gone.Body!.transformToString()).toBe("deleted one");
  const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "v/gone", VersionId: g1.VersionId }));
  expect(head.ContentLength).toBe("deleted one".length);
  expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "v/doc", VersionId: g1.VersionId })))).toBe("NoSuchKey");

  const paged = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: "v/", MaxKeys: 1 }));
  expect(paged.IsTruncated).toBe(true);
  const next = await s3.send(
    new ListObjectVersionsCommand({
      Bucket: BUCKET,
      Prefix: "v/",
      MaxKeys: 5,
      KeyMarker: paged.NextKeyMarker,
      VersionIdMarker: paged.NextVersionIdMarker,
    }),
  );
  expect(next.Versions!.map((v) => v.VersionId)).toEqual([v1.VersionId, g1.VersionId]);
});

test("DeleteObject naming a version, sent twice (a retry), succeeds both times; a replaced version is NotImplemented", async () => {
  const old = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "r/doc", Body: "replaced" }));
  const cur = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "r/doc", Body: "current" }));
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "r/doc", VersionId: cur.VersionId }));
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "r/doc", VersionId: cur.VersionId }));
  expect(await s3ErrorCode(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "r/doc", VersionId: old.VersionId })))).toBe(
    "NotImplemented",
  );
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: "r/" }));
  expect(listed.Versions!.map((v) => v.VersionId)).toEqual([cur.VersionId, old.VersionId]);
  expect(listed.DeleteMarkers!.map((m) => m.VersionId)).toEqual([`${cur.VersionId}.deleted`]);
});

test("DeleteObject naming the latest delete marker undeletes its version (as S3 does); an older marker is NotImplemented", async () => {
  const first = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "m/doc", Body: "first" }));
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "m/doc" }));
  const second = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "m/doc", Body: "second" }));
  const deleted = await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "m/doc" }));
  expect([deleted.DeleteMarker, deleted.VersionId]).toEqual([true, `${second.VersionId}.deleted`]);
  const markers = async () =>
    (await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: "m/" }))).DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest]);
  expect(await markers()).toEqual([
    [`${second.VersionId}.deleted`, true],
    [`${first.VersionId}.deleted`, false],
  ]);
  expect(
    await s3ErrorCode(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "m/doc", VersionId: `${first.VersionId}.deleted` }))),
  ).toBe("NotImplemented");

  const removed = await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "m/doc", VersionId: `${second.VersionId}.deleted` }));
  expect([removed.DeleteMarker, removed.VersionId]).toEqual([true, `${second.VersionId}.deleted`]);
  const back = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "m/doc" }));
  expect([back.VersionId, await back.Body!.transformToString()]).toEqual([second.VersionId, "second"]);
  expect(await markers()).toEqual([[`${first.VersionId}.deleted`, false]]);
});

test("DeleteObjects naming a key's latest delete marker undeletes it too, and reports the marker", async () => {
  const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "mb/doc", Body: "back" }));
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "mb/doc" }));
  const marker = `${put.VersionId}.deleted`;
  const out = await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: "mb/doc", VersionId: marker }] } }));
  expect(out.Errors ?? []).toEqual([]);
  expect(out.Deleted).toEqual([{ Key: "mb/doc", VersionId: marker, DeleteMarker: true, DeleteMarkerVersionId: marker }]);
  expect(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "mb/doc" }))).Body!.transformToString()).toBe("back");
});

test("ListObjectVersions with a delimiter rolls keys up into CommonPrefixes, and pages through them one entry at a time", async () => {
  for (const key of ["vd/a/1", "vd/a/2", "vd/c/x"]) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
  const b1 = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "vd/b", Body: "one" }));
  const b2 = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "vd/b", Body: "two" }));
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "vd/c/x" }));

  const whole = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: "vd/", Delimiter: "/" }));
  expect(whole.CommonPrefixes!.map((p) => p.Prefix)).toEqual(["vd/a/", "vd/c/"]);
  expect(whole.Versions!.map((v) => [v.Key, v.VersionId, v.IsLatest])).toEqual([
    ["vd/b", b2.VersionId, true],
    ["vd/b", b1.VersionId, false],
  ]);
  expect(whole.DeleteMarkers ?? []).toEqual([]);
  expect([whole.Delimiter, whole.IsTruncated]).toEqual(["/", false]);

  // One entry a page: a common prefix is one entry, and a page that ends on one resumes after it.
  const seen: string[] = [];
  let marker: { KeyMarker?: string; VersionIdMarker?: string } = {};
  for (let page = 0; page < 10; page++) {
    const out = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: "vd/", Delimiter: "/", MaxKeys: 1, ...marker }));
    for (const p of out.CommonPrefixes ?? []) seen.push(p.Prefix!);
    for (const v of out.Versions ?? []) seen.push(`${v.Key}@${v.VersionId}`);
    if (!out.IsTruncated) break;
    marker = { KeyMarker: out.NextKeyMarker, VersionIdMarker: out.NextVersionIdMarker };
  }
  expect(seen).toEqual(["vd/a/", `vd/b@${b2.VersionId}`, `vd/b@${b1.VersionId}`, "vd/c/"]);

  const inside = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: "vd/c/", Delimiter: "/" }));
  expect(inside.CommonPrefixes ?? []).toEqual([]);
  expect(inside.DeleteMarkers!.map((m) => [m.Key, m.IsLatest])).toEqual([["vd/c/x", true]]);
});
