import { createHash, randomBytes } from "node:crypto";
import type { RowDataPacket } from "mysql2/promise";
import { ErrorCode, hasCode } from "../../common/errors";
import { collect, silentLog } from "../../rpc/testing/test-helpers";
import { AccessTracker } from "../catalogue/access-tracker";
import { Catalogue } from "../catalogue/catalogue";
import { throwawayCatalogueDatabase } from "../catalogue/testing/throwaway-database";
import { Placement } from "../placement/placement";
import { startNodes, type InProcessNodes } from "../replicas/testing/in-process-nodes";
import { multipartEtag, MultipartStore } from "./multipart-store";
import { NO_EVENTS } from "./object-events";
import { ObjectStore } from "./object-store";

// The multipart engine against a real MariaDB (a database of its own) and real storage node
// servers in this process: parts are blobs on the nodes named by catalogue rows, Complete makes an
// ordinary version. Parts here are small (the minimum part size is lowered to 100 KiB) but larger
// than a chunk, so they stream like real parts; the S3 clients' tests are test/integration/s3-multipart*.

const CHUNK = 64 * 1024;
const MIN_PART = 100 * 1024;
const db = throwawayCatalogueDatabase();

let nodes: InProcessNodes;
let catalogue: Catalogue;
let objects: ObjectStore;
let mp: MultipartStore;
/** `mp`, but a Complete running longer than TAKEOVER_MS may be taken over (15 min in service). */
let quick: MultipartStore;
const TAKEOVER_MS = 300;

beforeAll(async () => {
  nodes = await startNodes([{ id: "s1" }, { id: "s2" }, { id: "s3" }], CHUNK);
  catalogue = new Catalogue(db.pool(), 60_000);
  const deps = {
    catalogue,
    placement: new Placement(nodes.directory, 2),
    nodes: nodes.pool,
    access: new AccessTracker(catalogue, 1000, silentLog),
    log: silentLog,
    events: NO_EVENTS,
    undeleter: { undelete: () => Promise.reject(new Error("not here")) },
  };
  objects = new ObjectStore(deps, { replicas: 2, writeQuorum: 2, maxObjectSize: 1 << 30, chunkSize: CHUNK, hotTtlMs: 30 * 60_000 });
  mp = new MultipartStore(deps, objects, { maxObjectSize: 1 << 30, chunkSize: CHUNK, minPartSize: MIN_PART });
  quick = new MultipartStore(deps, objects, {
    maxObjectSize: 1 << 30,
    chunkSize: CHUNK,
    minPartSize: MIN_PART,
    completingStaleMs: TAKEOVER_MS,
  });
});
afterAll(async () => {
  await objects.close();
  await nodes.close();
});

let seq = 0;
const newBucket = () => `mp${process.pid}-${++seq}`;
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

async function* pieces(data: Buffer, size = 10_000): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Which nodes hold a blob, asked of the nodes themselves. */
async function holders(blobId: string): Promise<string[]> {
  const out: string[] = [];
  for (const id of ["s1", "s2", "s3"]) if (await nodes.backend(id).stat(blobId)) out.push(id);
  return out;
}

/** `read()`'s answer once `done` says so, or its last answer after ~5 s. */
async function soon<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let v = await read();
  for (let i = 0; i < 100 && !done(v); i++) {
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

const partBlobs = async (uploadId: string) => (await catalogue.multipart.parts(uploadId, 0, 10_000)).map((p) => p.blobId);

test("parts are stored on R nodes, listed in pages, replaced; Complete makes the object with S3's ETag and drops the parts", async () => {
  const bucket = newBucket();
  const ref = await mp.create({ bucket, key: "big", contentType: "text/plain", metadata: { color: "blue" } });
  const data = [randomBytes(MIN_PART + 1), randomBytes(MIN_PART), randomBytes(5000)];

  const p1 = await mp.uploadPart({ ...ref, partNumber: 1, body: pieces(randomBytes(MIN_PART + 7)) });
  const firstBlob = (await partBlobs(ref.uploadId))[0];
  expect(await holders(firstBlob)).toHaveLength(2);
  // Re-uploading part 1 replaces it: new bytes, new ETag, the old copies deleted.
  const p1b = await mp.uploadPart({ ...ref, partNumber: 1, body: pieces(data[0]), contentLength: data[0].length });
  expect(p1b.etag).toBe(md5(data[0]));
  expect(p1b.etag).not.toBe(p1.etag);
  expect(await holders(firstBlob)).toEqual([]);
  await mp.uploadPart({ ...ref, partNumber: 3, body: pieces(data[2]) });
  await mp.uploadPart({ ...ref, partNumber: 2, body: pieces(data[1]) });
  for (const blob of await partBlobs(ref.uploadId)) expect(await holders(blob)).toHaveLength(2);

  const page1 = await mp.listParts(ref, 2, 0);
  expect(page1.parts.map((p) => [p.partNumber, p.size, p.etag])).toEqual([
    [1, data[0].length, md5(data[0])],
    [2, data[1].length, md5(data[1])],
  ]);
  expect(page1).toMatchObject({ isTruncated: true, nextPartNumberMarker: 2 });
  const page2 = await mp.listParts(ref, 2, page1.nextPartNumberMarker);
  expect(page2.parts.map((p) => p.partNumber)).toEqual([3]);
  expect(page2.isTruncated).toBe(false);

  const blobs = await partBlobs(ref.uploadId);
  const listed = [1, 2, 3].map((n, i) => ({ partNumber: n, etag: `"${md5(data[i])}"` }));
  const object = await mp.complete(ref, listed);
  const whole = Buffer.concat(data);
  expect(object.etag).toBe(multipartEtag(data.map((d) => ({ etag: md5(d) }))));
  expect(object.etag).toMatch(/^[0-9a-f]{32}-3$/);
  expect(object).toMatchObject({ size: whole.length, contentType: "text/plain", metadata: { color: "blue" } });

  const read = await objects.get(bucket, "big", undefined, undefined);
  expect(read.object.etag).toBe(object.etag);
  expect((await collect(read.body)).equals(whole)).toBe(true);
  // The parts' copies go after the answer (no row names them any more).
  for (const blob of blobs)
    expect(
      await soon(
        () => holders(blob),
        (h) => h.length === 0,
      ),
    ).toEqual([]);
  expect(await partBlobs(ref.uploadId)).toEqual([]);

  // A client's retry of the same Complete gets the same object; other calls see no upload.
  expect((await mp.complete(ref, listed)).versionId).toBe(object.versionId);
  expect(hasCode(await errorOf(mp.listParts(ref, 0, 0)), ErrorCode.NoSuchUpload)).toBe(true);
  expect(hasCode(await errorOf(mp.uploadPart({ ...ref, partNumber: 4, body: pieces(data[2]) })), ErrorCode.NoSuchUpload)).toBe(true);
});

/** Every blob the nodes hold, as "node/blob". */
async function allBlobs(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const id of ["s1", "s2", "s3"]) for await (const m of nodes.backend(id).list()) out.add(`${id}/${m.blobId}`);
  return out;
}

/** An upload of `data` as parts, ready to complete: its ref and the Complete's list. */
async function uploadedParts(bucket: string, key: string, data: Buffer[]) {
  const ref = await mp.create({ bucket, key, contentType: "application/octet-stream", metadata: {} });
  for (const [i, d] of data.entries()) await mp.uploadPart({ ...ref, partNumber: i + 1, body: pieces(d), contentLength: d.length });
  return { ref, listed: data.map((d, i) => ({ partNumber: i + 1, etag: md5(d) })) };
}

describe("Complete on the nodes (ComposeBlob)", () => {
  afterEach(() => jest.restoreAllMocks());

  test("the key's nodes write the object from their own copies of the parts: the coordinator copies no byte", async () => {
    const bucket = newBucket();
    const data = [randomBytes(MIN_PART + 3), randomBytes(MIN_PART), randomBytes(700)];
    const { ref, listed } = await uploadedParts(bucket, "composed", data);
    const partHolders = await holders((await partBlobs(ref.uploadId))[0]);
    const copied = jest.spyOn(objects, "put");
    const before = await allBlobs();
    const object = await mp.complete(ref, listed);
    expect(copied).not.toHaveBeenCalled();

    const whole = Buffer.concat(data);
    expect(object).toMatchObject({ size: whole.length, sha256: createHash("sha256").update(whole).digest("hex") });
    expect(object.etag).toBe(multipartEtag(data.map((d) => ({ etag: md5(d) }))));
    expect([...object.replicas].sort()).toEqual(partHolders);
    for (const id of partHolders) {
      const meta = await nodes.backend(id).stat(object.versionId);
      expect(meta?.sha256.toString("hex")).toBe(object.sha256);
    }
    expect((await collect((await objects.get(bucket, "composed", undefined, undefined)).body)).equals(whole)).toBe(true);
    // What is new on the nodes is the object's copies; the parts are gone.
    const after = await allBlobs();
    expect([...after].filter((b) => !before.has(b)).sort()).toEqual(partHolders.map((id) => `${id}/${object.versionId}`));
    expect(await partBlobs(ref.uploadId)).toEqual([]);
  });

  test("a node that lost its copy of a part: nothing composed is kept, the parts are copied from their other copies", async () => {
    const bucket = newBucket();
    const data = [randomBytes(MIN_PART + 11), randomBytes(MIN_PART + 5)];
    const { ref, listed } = await uploadedParts(bucket, "lost", data);
    const [, second] = await partBlobs(ref.uploadId);
    const [kept, lost] = await holders(second);
    await nodes.backend(lost).delete(second);
    const copied = jest.spyOn(objects, "put");
    const before = await allBlobs();
    const object = await mp.complete(ref, listed);
    expect(copied).toHaveBeenCalledTimes(1);

    const whole = Buffer.concat(data);
    expect(object).toMatchObject({ size: whole.length, sha256: createHash("sha256").update(whole).digest("hex") });
    expect((await collect((await objects.get(bucket, "lost", undefined, undefined)).body)).equals(whole)).toBe(true);
    // The copy the other node composed was discarded: only the object's copies are new.
    const fresh = [...(await allBlobs())].filter((b) => !before.has(b));
    expect(fresh.sort()).toEqual(object.replicas.map((id) => `${id}/${object.versionId}`).sort());
    expect(kept).toBeDefined();
  });

  test("a part's copy damaged on disk on one node: that compose fails its check, and the object is made from the sound copy", async () => {
    const bucket = newBucket();
    const data = [randomBytes(MIN_PART + 1), randomBytes(MIN_PART + 2)];
    const { ref, listed } = await uploadedParts(bucket, "rotten", data);
    const [first] = await partBlobs(ref.uploadId);
    const [damaged] = await holders(first);
    await nodes.corruptFile(damaged, first, 5000);
    const copied = jest.spyOn(objects, "put");
    const object = await mp.complete(ref, listed);
    expect(copied).toHaveBeenCalledTimes(1);

    const whole = Buffer.concat(data);
    expect(object.sha256).toBe(createHash("sha256").update(whole).digest("hex"));
    expect((await collect((await objects.get(bucket, "rotten", undefined, undefined)).body)).equals(whole)).toBe(true);
    for (const id of object.replicas) expect((await nodes.backend(id).verify(object.versionId)).verdict).toBe("ok");
  });
});

test("a bad part list is refused and changes nothing: the upload can still be completed", async () => {
  const bucket = newBucket();
  const ref = await mp.create({ bucket, key: "k", contentType: "", metadata: {} });
  const small = randomBytes(1000);
  const big = randomBytes(MIN_PART);
  await mp.uploadPart({ ...ref, partNumber: 1, body: pieces(small) });
  await mp.uploadPart({ ...ref, partNumber: 2, body: pieces(big) });
  const e1 = md5(small);
  const e2 = md5(big);

  const cases: [string, () => Promise<unknown>, ErrorCode][] = [
    [
      "unknown part",
      () =>
        mp.complete(ref, [
          { partNumber: 1, etag: e1 },
          { partNumber: 7, etag: e2 },
        ]),
      ErrorCode.InvalidPart,
    ],
    ["wrong etag", () => mp.complete(ref, [{ partNumber: 2, etag: e1 }]), ErrorCode.InvalidPart],
    [
      "descending",
      () =>
        mp.complete(ref, [
          { partNumber: 2, etag: e2 },
          { partNumber: 1, etag: e1 },
        ]),
      ErrorCode.InvalidPartOrder,
    ],
    [
      "twice",
      () =>
        mp.complete(ref, [
          { partNumber: 2, etag: e2 },
          { partNumber: 2, etag: e2 },
        ]),
      ErrorCode.InvalidPartOrder,
    ],
    [
      "small non-last",
      () =>
        mp.complete(ref, [
          { partNumber: 1, etag: e1 },
          { partNumber: 2, etag: e2 },
        ]),
      ErrorCode.EntityTooSmall,
    ],
    ["part number 0", () => mp.uploadPart({ ...ref, partNumber: 0, body: pieces(small) }), ErrorCode.InvalidArgument],
    ["other key", () => mp.complete({ ...ref, key: "other" }, [{ partNumber: 2, etag: e2 }]), ErrorCode.NoSuchUpload],
    ["unknown upload", () => mp.complete({ ...ref, uploadId: "0".repeat(28) }, [{ partNumber: 2, etag: e2 }]), ErrorCode.NoSuchUpload],
  ];
  for (const [name, call, code] of cases) {
    const err = await errorOf(call()); // one at a time: each must find the upload open
    expect([name, hasCode(err, code)]).toEqual([name, true]);
  }
  expect(hasCode(await errorOf(objects.head(bucket, "k")), ErrorCode.NoSuchKey)).toBe(true);
  expect((await mp.listParts(ref, 0, 0)).parts.map((p) => p.partNumber)).toEqual([1, 2]);

  // The last part may be small; part 1 is left out.
  const object = await mp.complete(ref, [{ partNumber: 2, etag: e2 }]);
  expect(object.etag).toBe(`${createHash("md5").update(Buffer.from(e2, "hex")).digest("hex")}-1`);
  expect((await collect((await objects.get(bucket, "k", undefined, undefined)).body)).equals(big)).toBe(true);
});

test("abort deletes the parts' bytes and rows; the upload is gone for every call", async () => {
  const bucket = newBucket();
  const ref = await mp.create({ bucket, key: "gone", contentType: "", metadata: {} });
  await mp.uploadPart({ ...ref, partNumber: 1, body: pieces(randomBytes(MIN_PART)) });
  await mp.uploadPart({ ...ref, partNumber: 2, body: pieces(randomBytes(300)) });
  const blobs = await partBlobs(ref.uploadId);
  expect(blobs).toHaveLength(2);
  await mp.abort(ref);
  for (const blob of blobs) expect(await holders(blob)).toEqual([]);
  expect(await partBlobs(ref.uploadId)).toEqual([]);
  expect(hasCode(await errorOf(mp.abort(ref)), ErrorCode.NoSuchUpload)).toBe(true);
  expect(hasCode(await errorOf(mp.listParts(ref, 0, 0)), ErrorCode.NoSuchUpload)).toBe(true);
  expect((await mp.listUploads({ bucket, prefix: "", keyMarker: "", uploadIdMarker: "", maxUploads: 0 })).uploads).toEqual([]);
});

test("uploads are listed by key then upload id, under a prefix, in pages that resume at the markers", async () => {
  const bucket = newBucket();
  const a1 = await mp.create({ bucket, key: "a/1", contentType: "", metadata: {} });
  const a1b = await mp.create({ bucket, key: "a/1", contentType: "", metadata: {} });
  const a2 = await mp.create({ bucket, key: "a/2", contentType: "", metadata: {} });
  await mp.create({ bucket, key: "b/1", contentType: "", metadata: {} });
  const all = (await mp.listUploads({ bucket, prefix: "", keyMarker: "", uploadIdMarker: "", maxUploads: 0 })).uploads;
  expect(all.map((u) => u.key)).toEqual(["a/1", "a/1", "a/2", "b/1"]);

  const first = await mp.listUploads({ bucket, prefix: "a/", keyMarker: "", uploadIdMarker: "", maxUploads: 1 });
  expect(first.uploads.map((u) => u.uploadId)).toEqual([[a1.uploadId, a1b.uploadId].sort()[0]]);
  expect(first).toMatchObject({ isTruncated: true, nextKeyMarker: "a/1" });
  const rest = await mp.listUploads({
    bucket,
    prefix: "a/",
    keyMarker: first.nextKeyMarker,
    uploadIdMarker: first.nextUploadIdMarker,
    maxUploads: 10,
  });
  expect(rest.uploads.map((u) => u.uploadId)).toEqual([[a1.uploadId, a1b.uploadId].sort()[1], a2.uploadId]);
  expect(rest.isTruncated).toBe(false);
  // A key marker alone skips every upload of that key.
  const after = await mp.listUploads({ bucket, prefix: "", keyMarker: "a/1", uploadIdMarker: "", maxUploads: 10 });
  expect(after.uploads.map((u) => u.key)).toEqual(["a/2", "b/1"]);
});

test("UploadPartCopy takes a part from an existing object, whole or a byte range", async () => {
  const bucket = newBucket();
  const source = randomBytes(3 * MIN_PART);
  await objects.put({ bucket, key: "src", contentType: "", metadata: {}, body: pieces(source), requestId: undefined });
  const ref = await mp.create({ bucket, key: "dst", contentType: "", metadata: {} });
  const p1 = await mp.uploadPartCopy({ ...ref, partNumber: 1, source: { bucket, key: "src" }, range: { offset: 10, length: MIN_PART } });
  expect(p1).toMatchObject({ size: MIN_PART, etag: md5(source.subarray(10, 10 + MIN_PART)) });
  const p2 = await mp.uploadPartCopy({ ...ref, partNumber: 2, source: { bucket, key: "src" } });
  expect(p2.etag).toBe(md5(source));
  await mp.complete(ref, [p1, p2]);
  const got = await collect((await objects.get(bucket, "dst", undefined, undefined)).body);
  expect(got.equals(Buffer.concat([source.subarray(10, 10 + MIN_PART), source]))).toBe(true);
  expect(
    hasCode(await errorOf(mp.uploadPartCopy({ ...ref, partNumber: 1, source: { bucket, key: "nope" } })), ErrorCode.NoSuchUpload),
  ).toBe(true);
});

test("a part is not acknowledged with fewer copies than the write quorum, and leaves no row", async () => {
  const weak = await startNodes([{ id: "w1" }, { id: "w2", unreachable: true }], CHUNK);
  try {
    const deps = {
      catalogue,
      placement: new Placement(weak.directory, 2),
      nodes: weak.pool,
      access: new AccessTracker(catalogue, 1000, silentLog),
      log: silentLog,
      events: NO_EVENTS,
      undeleter: { undelete: () => Promise.reject(new Error("not here")) },
    };
    const store = new ObjectStore(deps, { replicas: 2, writeQuorum: 2, maxObjectSize: 1 << 30, chunkSize: CHUNK, hotTtlMs: 30 * 60_000 });
    const m = new MultipartStore(deps, store, { maxObjectSize: 1 << 30, chunkSize: CHUNK });
    const ref = await m.create({ bucket: newBucket(), key: "q", contentType: "", metadata: {} });
    const err = await errorOf(m.uploadPart({ ...ref, partNumber: 1, body: pieces(randomBytes(1000)) }));
    expect(hasCode(err, ErrorCode.QuorumNotReached)).toBe(true);
    expect(await partBlobs(ref.uploadId)).toEqual([]);
    await store.close();
  } finally {
    await weak.close();
  }
});

test("a Complete in progress makes another wait (OperationAborted); one left by a dead coordinator is taken over after 15 min", async () => {
  const bucket = newBucket();
  const ref = await mp.create({ bucket, key: "race", contentType: "", metadata: {} });
  const data = randomBytes(2000);
  await mp.uploadPart({ ...ref, partNumber: 1, body: pieces(data) });
  const setCompleting = (ageMs: number) =>
    db
      .pool()
      .query("UPDATE multipart_uploads SET state = 'completing', state_ms = ? WHERE upload_id = ?", [Date.now() - ageMs, ref.uploadId]);
  const list = [{ partNumber: 1, etag: md5(data) }];

  await setCompleting(60_000);
  expect(hasCode(await errorOf(mp.complete(ref, list)), ErrorCode.Conflict)).toBe(true);
  expect(hasCode(await errorOf(mp.uploadPart({ ...ref, partNumber: 2, body: pieces(data) })), ErrorCode.NoSuchUpload)).toBe(true);
  await setCompleting(16 * 60_000);
  const object = await mp.complete(ref, list);
  expect((await collect((await objects.get(bucket, "race", undefined, undefined)).body)).equals(data)).toBe(true);
  expect(object.etag).toMatch(/-1$/);
});

test("a coordinator whose clock runs ahead takes over neither a running Complete nor aborts it", async () => {
  const bucket = newBucket();
  const ref = await mp.create({ bucket, key: "skew", contentType: "", metadata: {} });
  const data = randomBytes(2000);
  await mp.uploadPart({ ...ref, partNumber: 1, body: pieces(data) });
  const list = [{ partNumber: 1, etag: md5(data) }];
  // Another coordinator began its Complete a minute ago (by the catalogue's clock, the one they share).
  await db
    .pool()
    .query(
      "UPDATE multipart_uploads SET state = 'completing', state_ms = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED) - 60000 WHERE upload_id = ?",
      [ref.uploadId],
    );
  // This one's wall clock is 20 minutes ahead: the running Complete is no older for that.
  const ahead = Date.now() + 20 * 60_000;
  jest.spyOn(Date, "now").mockImplementation(() => ahead);
  try {
    const completed = await errorOf(mp.complete(ref, list));
    const aborted = await errorOf(mp.abort(ref));
    expect({ completeRefused: hasCode(completed, ErrorCode.Conflict), abortRefused: hasCode(aborted, ErrorCode.Conflict) }).toEqual({
      completeRefused: true,
      abortRefused: true,
    });
  } finally {
    jest.restoreAllMocks();
  }
  expect(hasCode(await errorOf(objects.head(bucket, "skew")), ErrorCode.NoSuchKey)).toBe(true);
});

/** Holds the first catalogue commit from now (a Complete's, its bytes made) until released; later ones pass. Restore the mocks after. */
function holdFirstCommit(): { atCommit: Promise<void>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const atCommit = new Promise<void>((r) => (reached = r));
  const commit = catalogue.commit.bind(catalogue);
  let calls = 0;
  jest.spyOn(catalogue, "commit").mockImplementation(async (...args) => {
    if (++calls === 1) {
      reached();
      await gate;
    }
    return commit(...args);
  });
  return { atCommit, release };
}

test("an Abort while a Complete runs is refused (409), so no object appears after an Abort was answered", async () => {
  const bucket = `mpabort${process.pid}`;
  const ref = await mp.create({ bucket, key: "k", contentType: "", metadata: {} });
  const data = [randomBytes(MIN_PART + 3), randomBytes(MIN_PART + 5)];
  for (const [i, d] of data.entries()) await mp.uploadPart({ ...ref, partNumber: i + 1, body: pieces(d), contentLength: d.length });
  const listed = data.map((d, i) => ({ partNumber: i + 1, etag: md5(d) }));

  // Hold the Complete just before its catalogue commit (its bytes made), then let it go on as it would.
  const { atCommit, release } = holdFirstCommit();

  const completing = mp.complete(ref, listed).then(
    (object) => ({ object }),
    (error: unknown) => ({ error }),
  );
  await atCommit;
  // The client (or a cleanup job) aborts the upload while its object is being made: refused, since
  // forgetting the upload then would not stop the Complete from committing the object.
  const aborted = await errorOf(mp.abort(ref));
  release();
  jest.restoreAllMocks();
  const outcome = await completing;
  const head = await errorOf(objects.head(bucket, "k"));
  expect({ abortRefused: hasCode(aborted, ErrorCode.Conflict), completed: "object" in outcome, visible: head === undefined }).toEqual({
    abortRefused: true,
    completed: true,
    visible: true,
  });
});

describe("a Complete stalled past its takeover time (SIGSTOP) is fenced", () => {
  afterEach(() => jest.restoreAllMocks());

  /**
   * An upload of two parts whose Complete is held just before its catalogue commit (its bytes made)
   * for longer than TAKEOVER_MS, as a coordinator stopped there; `resume` lets it go on and answers
   * how it ended. Later commits pass. `before`: the blobs on the nodes before the Complete.
   */
  async function stalledComplete(bucket: string) {
    const data = [randomBytes(MIN_PART + 3), randomBytes(MIN_PART + 5)];
    const { ref, listed } = await uploadedParts(bucket, "k", data);
    const before = await allBlobs();
    const { atCommit, release } = holdFirstCommit();
    const first = quick.complete(ref, listed).then(
      (object) => ({ object }),
      (error: unknown) => ({ error }),
    );
    await atCommit;
    await new Promise((r) => setTimeout(r, TAKEOVER_MS + 100));
    const resume = () => {
      release();
      return first;
    };
    return { ref, listed, before, resume };
  }

  const versionsOf = async (bucket: string, key: string) =>
    (
      await db
        .pool()
        .query<RowDataPacket[]>("SELECT version_id, state FROM versions WHERE bucket = ? AND object_key = ? ORDER BY version_id", [
          bucket,
          key,
        ])
    )[0].map((r) => [r.version_id as string, r.state as string]);

  /** The blobs on the nodes that were not there `before`, once there are `n` of them (or after ~5 s). */
  const newBlobs = (before: Set<string>, n: number) =>
    soon(
      async () => [...(await allBlobs())].filter((b) => !before.has(b)).sort(),
      (f) => f.length === n,
    );

  test("taken over by a second Complete, the first commits nothing when it resumes: one version of the key", async () => {
    const bucket = newBucket();
    const { ref, listed, before, resume } = await stalledComplete(bucket);
    const second = await quick.complete(ref, listed); // takes the "dead" Complete over and commits
    const outcome = await resume();
    // One version made; the first Complete answers with it, as a retried Complete would.
    expect(await versionsOf(bucket, "k")).toEqual([[second.versionId, "live"]]);
    expect("object" in outcome ? outcome.object.versionId : outcome.error).toBe(second.versionId);
    // The first one's own copies went, the parts too: what is new on the nodes is the object.
    expect(await newBlobs(before, second.replicas.length)).toEqual(second.replicas.map((id) => `${id}/${second.versionId}`).sort());
  });

  test("aborted after its takeover time, it commits nothing when it resumes: no object appears after the Abort", async () => {
    const bucket = newBucket();
    const { ref, before, resume } = await stalledComplete(bucket);
    await quick.abort(ref); // the Complete looks dead: the Abort goes ahead
    const outcome = await resume();
    expect(await versionsOf(bucket, "k")).toEqual([]);
    expect("error" in outcome && hasCode(outcome.error, ErrorCode.NoSuchUpload)).toBe(true);
    expect(await newBlobs(before, 0)).toEqual([]);
  });
});
