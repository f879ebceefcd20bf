import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { createConnection } from "mysql2/promise";
import pino from "pino";
import { inService, requireCompiled } from "../../../test/support/in-service";
import { ErrorCode, hasCode } from "../../common/errors";
import type { Catalogue } from "../catalogue/catalogue";
import { ObjectStore, UPLOAD_CHUNK_BYTES, type ObjectStoreDeps } from "./object-store";
import { UploadBody } from "./upload-body";
import type { LargeUploadLimits } from "./large-upload-gate";
import type { UploadBufferLimits } from "./upload-buffer";

// While MariaDB is away, reads, deletes and listings fail with CatalogueUnavailable (503 /
// UNAVAILABLE), not with the raw driver error (500 / INTERNAL): issue 12 item 9, review finding 19.
// The whole path, with a private MariaDB stopped and started, is test/integration/catalogue-outage.test.ts.

/** The error mysql2 gives when MariaDB is not there (nothing listens on port 1). */
async function refusedError(): Promise<unknown> {
  return createConnection({ host: "127.0.0.1", port: 1, user: "root" }).then(
    () => {
      throw new Error("something listens on port 1");
    },
    (e: unknown) => e,
  );
}

function storeOver(fail: () => Promise<never>): ObjectStore {
  const catalogue = {
    current: fail,
    markDeleted: fail,
    list: fail,
    listTrash: fail,
    clock: { now: fail },
  } as unknown as Catalogue;
  const deps = { catalogue, undeleter: { undelete: fail }, log: pino({ level: "silent" }) } as unknown as ObjectStoreDeps;
  return new ObjectStore(deps, { replicas: 2, writeQuorum: 2, maxObjectSize: 1 << 20, chunkSize: 1 << 16, hotTtlMs: 30 * 60_000 });
}

const calls = (s: ObjectStore): [string, () => Promise<unknown>][] => [
  ["get", () => s.get("default", "k", undefined, undefined)],
  ["head", () => s.head("default", "k")],
  ["delete", () => s.delete("default", "k", undefined)],
  ["list", () => s.list("default", "", 10, "")],
  ["listTrash", () => s.listTrash("default", "", 10, "")],
  ["undelete", () => s.undelete("default", "k", undefined)],
];

test("every read, delete and listing answers CatalogueUnavailable when MariaDB refuses the connection", async () => {
  const refused = await refusedError();
  const store = storeOver(() => Promise.reject(refused));
  try {
    for (const [name, call] of calls(store)) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect([name, hasCode(err, ErrorCode.CatalogueUnavailable)]).toEqual([name, true]);
    }
  } finally {
    await store.close();
  }
});

test("an error that is not about MariaDB being away is passed on as it is (a bug stays a 500)", async () => {
  const bug = new TypeError("a bug");
  const store = storeOver(() => Promise.reject(bug));
  try {
    for (const [, call] of calls(store)) await expect(call()).rejects.toBe(bug);
  } finally {
    await store.close();
  }
});

test("a large body goes to its replicas in chunks of UPLOAD_CHUNK_BYTES, whatever the smaller MINIS3_CHUNK_SIZE", async () => {
  const deps = {
    placement: { targets: () => ["n1", "n2"], spares: () => [] },
    nodes: { returnDeadline: () => 0, untilReturn: () => Promise.resolve(false) },
    log: pino({ level: "silent" }),
  } as unknown as ObjectStoreDeps;
  const store = new ObjectStore(deps, { replicas: 2, writeQuorum: 2, maxObjectSize: 1 << 30, chunkSize: 1 << 16, hotTtlMs: 30 * 60_000 });
  const sent: Buffer[] = [];
  const upload = {
    write: (chunk: Buffer) => {
      sent.push(Buffer.from(chunk)); // a copy: the engine refills the chunks the replicas are done with
      return Promise.resolve(true);
    },
    finish: () => Promise.resolve(["n1", "n2"]),
    settled: () => Promise.resolve(),
    abort: () => undefined,
  };
  (store as unknown as { writer: { startLarge: () => typeof upload } }).writer = { startLarge: () => upload };
  const data = randomBytes(3 * UPLOAD_CHUNK_BYTES + 5);
  async function* pieces() {
    for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
  }
  try {
    const { replicas, digest } = await store.storeBlob("default", "k", "v1", new UploadBody(pieces(), 1 << 30, data.length), undefined);
    expect(replicas).toEqual(["n1", "n2"]);
    expect(sent.map((c) => c.length)).toEqual([UPLOAD_CHUNK_BYTES, UPLOAD_CHUNK_BYTES, UPLOAD_CHUNK_BYTES, 5]);
    expect(Buffer.concat(sent).equals(data)).toBe(true);
    expect(digest.sha256.equals(createHash("sha256").update(data).digest())).toBe(true);
  } finally {
    await store.close();
  }
});

test("the chunks an upload kept go to the next uploads only once it has settled, and a failed upload's never", async () => {
  const deps = {
    placement: { targets: () => ["n1", "n2"], spares: () => ["n3"] },
    nodes: { returnDeadline: () => 0, untilReturn: () => Promise.resolve(false) },
    log: pino({ level: "silent" }),
  } as unknown as ObjectStoreDeps;
  const store = new ObjectStore(deps, { replicas: 2, writeQuorum: 2, maxObjectSize: 1 << 30, chunkSize: 1 << 16, hotTtlMs: 30 * 60_000 });
  /** A replicated upload that keeps every chunk for a replacement (write answers "do not refill"), as up to 8 MiB are. */
  const fakeUpload = (fails: boolean) => {
    let settle!: () => void;
    const up = {
      chunks: [] as Buffer[],
      settledAt: new Promise<void>((resolve) => (settle = resolve)),
      settle: () => settle(),
      write: (chunk: Buffer) => (up.chunks.push(chunk), Promise.resolve(false)),
      finish: () => (fails ? Promise.reject(new Error("below the write quorum (test)")) : Promise.resolve(["n1", "n2"])),
      settled: () => up.settledAt,
      abort: () => undefined,
    };
    return up;
  };
  const uploads: ReturnType<typeof fakeUpload>[] = [];
  let failNext = false;
  (store as unknown as { writer: unknown }).writer = {
    startLarge: () => {
      uploads.push(fakeUpload(failNext));
      return uploads[uploads.length - 1];
    },
    discard: () => Promise.resolve([]),
  };
  const data = randomBytes(3 * UPLOAD_CHUNK_BYTES);
  const store3MiB = (id: string) => {
    async function* pieces() {
      for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
    }
    return store.storeBlob("default", "k", id, new UploadBody(pieces(), 1 << 30, data.length), undefined);
  };
  const shared = (a: Buffer[], b: Buffer[]) => a.filter((c) => b.includes(c)).length;
  try {
    await store3MiB("v1");
    await store3MiB("v2"); // v1 has not settled: its chunks may still be replayed to a replacement
    expect(shared(uploads[0].chunks, uploads[1].chunks)).toBe(0);
    uploads[0].settle();
    await uploads[0].settledAt;
    await store3MiB("v3");
    expect(shared(uploads[0].chunks, uploads[2].chunks)).toBe(3);
    // Each reused chunk was filled with the new upload's bytes.
    expect(Buffer.concat(uploads[2].chunks).equals(data)).toBe(true);

    failNext = true;
    const failed = await store3MiB("v4").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(Error);
    uploads[3].settle();
    failNext = false;
    uploads[1].settle();
    uploads[2].settle();
    await Promise.all([uploads[1].settledAt, uploads[2].settledAt]);
    await store3MiB("v5");
    expect(shared(uploads[3].chunks, uploads[4].chunks)).toBe(0);
    expect(shared([...uploads[1].chunks, ...uploads[2].chunks], uploads[4].chunks)).toBe(3);
  } finally {
    await store.close();
  }
});

test("a small body goes to its replicas with its crc32, which they check it by instead of a second sha256", async () => {
  const deps = {
    placement: { targets: () => ["n1", "n2"], spares: () => [] },
    nodes: { returnDeadline: () => 0, asNodesReturn: (attempt: (tried: boolean) => Promise<string[]>) => attempt(false) },
    log: pino({ level: "silent" }),
  } as unknown as ObjectStoreDeps;
  const store = new ObjectStore(deps, { replicas: 2, writeQuorum: 2, maxObjectSize: 1 << 30, chunkSize: 1 << 16, hotTtlMs: 30 * 60_000 });
  const calls: unknown[][] = [];
  const writer = { putSmall: (...args: unknown[]) => (calls.push(args), Promise.resolve(["n1", "n2"])) };
  (store as unknown as { writer: typeof writer }).writer = writer;
  const data = randomBytes(4096);
  async function* pieces() {
    yield data;
  }
  try {
    const { replicas } = await store.storeBlob("default", "k", "v1", new UploadBody(pieces(), 1 << 30, data.length), undefined);
    expect(replicas).toEqual(["n1", "n2"]);
    expect(calls).toHaveLength(1);
    const [, sent, { sha256, crc32: crc }] = calls[0] as [string, Buffer, { sha256: Buffer; crc32?: number }, ...unknown[]];
    expect(sent.equals(data)).toBe(true);
    expect(sha256.equals(createHash("sha256").update(data).digest())).toBe(true);
    expect(crc).toBe(crc32(data));
  } finally {
    await store.close();
  }
});

/** Placement on two nodes, n1 and n2, both reachable; the writer is the test's own. */
function twoNodes(): ObjectStoreDeps {
  return {
    placement: { targets: () => ["n1", "n2"], spares: () => [] },
    nodes: {
      returnDeadline: () => 0,
      untilReturn: () => Promise.resolve(false),
      asNodesReturn: (attempt: (tried: boolean) => Promise<string[]>) => attempt(false),
    },
    log: pino({ level: "silent" }),
  } as unknown as ObjectStoreDeps;
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

test.each([
  ["a signed sha256", ErrorCode.XAmzContentSHA256Mismatch, (b: Buffer) => ({ payloadSha256: sha(b) })],
  ["a Content-MD5", ErrorCode.BadDigest, (b: Buffer) => ({ contentMd5: md5(b) })],
])(
  "%s left to the engine: a small body that differs is refused before any copy, a large one after, its copies dropped",
  async (_what, code, expected) => {
    const deps = twoNodes();
    const store = new ObjectStore(deps, { replicas: 2, writeQuorum: 2, maxObjectSize: 1 << 30, chunkSize: 1 << 16, hotTtlMs: 30 * 60_000 });
    const small: unknown[] = [];
    const discarded: unknown[][] = [];
    const upload = {
      write: () => Promise.resolve(true),
      finish: () => Promise.resolve(["n1", "n2"]),
      settled: () => Promise.resolve(),
      abort: () => undefined,
    };
    (store as unknown as { writer: object }).writer = {
      putSmall: (...args: unknown[]) => (small.push(args), Promise.resolve(["n1", "n2"])),
      startLarge: () => upload,
      discard: (...args: unknown[]) => (discarded.push(args), Promise.resolve()),
    };
    const bodyOf = (data: Buffer) =>
      new UploadBody(
        (async function* () {
          for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
        })(),
        1 << 30,
        data.length,
      );
    try {
      for (const size of [4096, 3 * UPLOAD_CHUNK_BYTES]) {
        const data = randomBytes(size);
        const refused = await store.storeBlob("default", "k", `v${size}`, bodyOf(data), undefined, expected(randomBytes(8))).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect([size, hasCode(refused, code)]).toEqual([size, true]);
        const stored = await store.storeBlob("default", "k", `w${size}`, bodyOf(data), undefined, expected(data));
        expect([stored.digest.sha256.toString("hex"), stored.digest.etag]).toEqual([sha(data), md5(data)]);
      }
      expect(small).toHaveLength(1); // only the small body signed as it is went to its replicas
      expect(discarded).toEqual([["v" + 3 * UPLOAD_CHUNK_BYTES, ["n1", "n2"], undefined]]);
    } finally {
      await store.close();
    }
  },
);

/** Stores `body` as version "v-refused" of key "b", and answers what it failed with and whether its body was cancelled. */
async function storeRefused(store: ObjectStore, body: UploadBody): Promise<{ error: unknown; cancelled: boolean }> {
  let cancelled = false;
  const cancel = body.cancel.bind(body);
  body.cancel = () => ((cancelled = true), cancel());
  const error = await store.storeBlob("default", "b", "v-refused", body, undefined).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, cancelled };
}

/** A store over twoNodes() whose uploads go through these bounds (a gate for large ones, a buffer for heads). */
function boundedStore(bounds: { largeUploads?: LargeUploadLimits; uploadBuffer?: UploadBufferLimits }): ObjectStore {
  return new ObjectStore(twoNodes(), {
    replicas: 2,
    writeQuorum: 2,
    maxObjectSize: 1 << 30,
    chunkSize: 1 << 16,
    hotTtlMs: 30 * 60_000,
    ...bounds,
  });
}

test("past MINIS3_LARGE_UPLOADS a large upload waits its turn, and one that waits too long is refused with SlowDown, nothing sent; small ones never wait", async () => {
  const limits = { limit: 1, waitMs: 100 };
  const store = boundedStore({ largeUploads: limits });
  const started: string[] = [];
  (store as unknown as { writer: unknown }).writer = {
    startLarge: (versionId: string) => {
      started.push(versionId);
      return {
        write: () => Promise.resolve(true),
        finish: () => Promise.resolve(["n1", "n2"]),
        settled: () => Promise.resolve(),
        abort: () => undefined,
      };
    },
    putSmall: () => Promise.resolve(["n1", "n2"]),
  };
  const data = randomBytes(2 * UPLOAD_CHUNK_BYTES);
  /** A large body whose second half comes only once `go` resolves (a client on a slow link). */
  const stalled = (go: Promise<void>) =>
    (async function* () {
      yield data.subarray(0, UPLOAD_CHUNK_BYTES);
      await go;
      yield data.subarray(UPLOAD_CHUNK_BYTES);
    })();
  const whole = (bytes: Buffer) =>
    (async function* () {
      yield bytes;
    })();
  let go!: () => void;
  try {
    const slow = store.storeBlob(
      "default",
      "a",
      "v-slow",
      new UploadBody(stalled(new Promise((r) => (go = r))), 1 << 30, data.length),
      undefined,
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(store.largeUploads!.streaming).toBe(1);

    // A small upload meanwhile is not held up.
    const small = randomBytes(4096);
    await expect(
      store.storeBlob("default", "s", "v-small", new UploadBody(whole(small), 1 << 30, small.length), undefined),
    ).resolves.toMatchObject({
      replicas: ["n1", "n2"],
    });

    // A second large one waits, then is refused: its body cancelled, no replica ever started.
    const refused = await storeRefused(store, new UploadBody(whole(data), 1 << 30, data.length));
    expect(hasCode(refused.error, ErrorCode.SlowDown)).toBe(true);
    expect(refused.cancelled).toBe(true);
    expect(started).toEqual(["v-slow"]);

    // One that arrives while the slow one streams gets its turn when it ends (however long that takes here).
    limits.waitMs = 60_000;
    const queued = store.storeBlob("default", "c", "v-queued", new UploadBody(whole(data), 1 << 30, data.length), undefined);
    await new Promise((r) => setTimeout(r, 10));
    expect(store.largeUploads!.waiting).toBe(1);
    go();
    await expect(slow).resolves.toMatchObject({ replicas: ["n1", "n2"] });
    await expect(queued).resolves.toMatchObject({ replicas: ["n1", "n2"] });
    expect(started).toEqual(["v-slow", "v-queued"]);
    expect([store.largeUploads!.streaming, store.largeUploads!.waiting]).toEqual([0, 0]);
  } finally {
    go?.();
    await store.close();
  }
});

test("a large upload whose client stalls gives its turn up, so the next large upload streams meanwhile; both are stored whole", async () => {
  const store = boundedStore({ largeUploads: { limit: 1, waitMs: 10_000, slowBytes: 1024, checkEveryMs: 20 } });
  const sent = new Map<string, Buffer[]>();
  (store as unknown as { writer: unknown }).writer = {
    startLarge: (versionId: string) => {
      sent.set(versionId, []);
      return {
        write: (chunk: Buffer) => (sent.get(versionId)!.push(Buffer.from(chunk)), Promise.resolve(true)),
        finish: () => Promise.resolve(["n1", "n2"]),
        settled: () => Promise.resolve(),
        abort: () => undefined,
      };
    },
  };
  const data = randomBytes(2 * UPLOAD_CHUNK_BYTES);
  let go!: () => void;
  const resumed = new Promise<void>((r) => (go = r));
  async function* stalled() {
    yield data.subarray(0, UPLOAD_CHUNK_BYTES);
    await resumed;
    yield data.subarray(UPLOAD_CHUNK_BYTES);
  }
  async function* whole() {
    yield data;
  }
  try {
    const slow = store.storeBlob("default", "a", "v-slow", new UploadBody(stalled(), 1 << 30, data.length), undefined);
    const fast = await store.storeBlob("default", "b", "v-fast", new UploadBody(whole(), 1 << 30, data.length), undefined);
    expect(fast.replicas).toEqual(["n1", "n2"]);
    expect(Buffer.concat(sent.get("v-fast")!).equals(data)).toBe(true);
    go();
    await expect(slow).resolves.toMatchObject({ replicas: ["n1", "n2"] });
    expect(Buffer.concat(sent.get("v-slow")!).equals(data)).toBe(true);
    expect(store.largeUploads!.streaming).toBe(0);
  } finally {
    go();
    await store.close();
  }
});

test("past MINIS3_UPLOAD_BUFFER an upload waits before any byte of it is read, and one that waits too long is refused with SlowDown, nothing sent", async () => {
  const limits = { bytes: 48 * 1024, waitMs: 100 };
  const store = boundedStore({ uploadBuffer: limits });
  const stored: string[] = [];
  (store as unknown as { writer: unknown }).writer = {
    putSmall: (versionId: string) => (stored.push(versionId), Promise.resolve(["n1", "n2"])),
  };
  /** A small body, its pieces counted as the engine reads them; `go` (if any) holds back its second half. */
  const bodyOf = (data: Buffer, read: { pieces: number }, go?: Promise<void>) =>
    new UploadBody(
      (async function* () {
        read.pieces++;
        yield data.subarray(0, data.length / 2);
        await go;
        read.pieces++;
        yield data.subarray(data.length / 2);
      })(),
      1 << 30,
      data.length,
    );
  let go!: () => void;
  const resumed = new Promise<void>((r) => (go = r));
  try {
    // A 40 KiB upload whose client stalls halfway holds 40 KiB of the 48.
    const slowData = randomBytes(40 * 1024);
    const slow = store.storeBlob("default", "a", "v-slow", bodyOf(slowData, { pieces: 0 }, resumed), undefined);
    await new Promise((r) => setTimeout(r, 10));
    expect(store.uploadBuffer!.held).toBe(40 * 1024);

    // 4 KiB fits beside it.
    await expect(store.storeBlob("default", "s", "v-small", bodyOf(randomBytes(4096), { pieces: 0 }), undefined)).resolves.toMatchObject({
      replicas: ["n1", "n2"],
    });

    // 16 KiB does not: it waits, none of its bytes read, then is refused and its body cancelled.
    const read = { pieces: 0 };
    const refused = await storeRefused(store, bodyOf(randomBytes(16 * 1024), read));
    expect(hasCode(refused.error, ErrorCode.SlowDown)).toBe(true);
    expect([read.pieces, refused.cancelled]).toEqual([0, true]);

    // One that waits long enough is read and stored once the slow one has room to give back.
    limits.waitMs = 60_000;
    const queuedRead = { pieces: 0 };
    const queued = store.storeBlob("default", "c", "v-queued", bodyOf(randomBytes(16 * 1024), queuedRead), undefined);
    await new Promise((r) => setTimeout(r, 10));
    expect([store.uploadBuffer!.waiting, queuedRead.pieces]).toEqual([1, 0]);
    go();
    await expect(slow).resolves.toMatchObject({ replicas: ["n1", "n2"] });
    await expect(queued).resolves.toMatchObject({ replicas: ["n1", "n2"] });
    expect(stored).toEqual(["v-small", "v-slow", "v-queued"]);
    expect([store.uploadBuffer!.held, store.uploadBuffer!.waiting]).toEqual([0, 0]);
  } finally {
    go();
    await store.close();
  }
});

test("a small body read in several pieces has its pieces freed once copied into one buffer; one read whole is handed on intact", () => {
  // In a child process with the launcher's flags (freeing needs ArrayBuffer.prototype.transfer), on the compiled engine.
  const got = inService(`
    const { ObjectStore } = ${requireCompiled("services/coordinator/objects/object-store.js")};
    const { UploadBody } = ${requireCompiled("services/coordinator/objects/upload-body.js")};
    const { ownBodyPiece } = ${requireCompiled("services/common/body-pieces.js")};
    const deps = {
      placement: { targets: () => ["n1", "n2"], spares: () => [] },
      nodes: { returnDeadline: () => 0, untilReturn: async () => false, asNodesReturn: (attempt) => attempt(false) },
      log: { info() {}, warn() {}, error() {}, debug() {} },
    };
    const store = new ObjectStore(deps, { replicas: 2, writeQuorum: 2, maxObjectSize: 1 << 30, chunkSize: 1 << 16, hotTtlMs: 1800000 });
    store.writer = { putSmall: async () => ["n1", "n2"] };
    const body = (pieces) => new UploadBody((async function* () { yield* pieces; })(), 1 << 30, pieces.reduce((n, p) => n + p.length, 0));
    (async () => {
      const pieces = [1000, 2000, 3000].map((n, i) => ownBodyPiece(Buffer.alloc(n, i + 1)));
      const stored = await store.storeBlob("default", "k", "v1", body(pieces), undefined);
      const whole = ownBodyPiece(Buffer.alloc(4096, 9));
      const kept = await store.storeBlob("default", "k", "v2", body([whole]), undefined);
      console.log(JSON.stringify({
        joined: stored.small.length === 6000 && stored.small[0] === 1 && stored.small[5999] === 3,
        piecesFreed: pieces.every((p) => p.length === 0),
        wholeIntact: kept.small === whole && whole.length === 4096 && whole[4095] === 9,
      }));
      await store.close();
    })();
  `);
  expect(got).toEqual({ joined: true, piecesFreed: true, wholeIntact: true });
});
