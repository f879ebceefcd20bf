import { ErrorCode, IntegrityError, MiniS3Error } from "../../common/errors";
import { blobOf, collect, silentLog } from "../../rpc/testing/test-helpers";
import type { BlobMeta } from "../../rpc/blob-backend";
import { PullUnsupported, type BlobRead, type BlobUpload } from "../../rpc/client/node-client";
import type { NodePool } from "../cluster/node-pool";
import { BlobCopier } from "./blob-copier";
import { BodyCache } from "./body-cache";
import { startNodes, versionOf, type InProcessNodes } from "./testing/in-process-nodes";

// The copier's memory bound: large objects stream through the coordinator one at a time, whatever
// the lifecycle queues' concurrency, while small ones pass beside them. Nodes are in-memory stand-ins.
// Then its fail-over, against real node servers in this process.

const SMALL_MAX = 1024;

/** A source node whose streamed reads wait for `release()`, and a target that keeps what it gets. */
function fakeNodes(blobs: Map<string, Buffer>) {
  let streaming = 0;
  let mostStreaming = 0;
  const gates: (() => void)[] = [];
  const stored = new Map<string, Buffer>();
  const meta = (id: string): BlobMeta => ({
    blobId: id,
    size: blobs.get(id)!.length,
    sha256: Buffer.alloc(32),
    storedAtMs: 0,
    attributes: {},
  });
  const client = {
    async readBlob(id: string): Promise<BlobRead> {
      const data = blobs.get(id)!;
      async function* chunks() {
        streaming++;
        mostStreaming = Math.max(mostStreaming, streaming);
        try {
          await new Promise<void>((r) => gates.push(r));
          yield data;
        } finally {
          streaming--;
        }
      }
      return { meta: meta(id), offset: 0, length: data.length, chunks: chunks() };
    },
    async connected() {
      return true;
    },
    writeBlob(id: string): BlobUpload {
      const parts: Buffer[] = [];
      return {
        async write(chunk: Buffer) {
          parts.push(Buffer.from(chunk));
        },
        async finish() {
          stored.set(id, Buffer.concat(parts));
          return meta(id);
        },
        abort() {
          /* nothing kept */
        },
      };
    },
    async getSmall(id: string) {
      return { data: blobs.get(id)!, meta: meta(id) };
    },
    async putSmall(id: string, _attributes: Record<string, string>, data: Buffer) {
      stored.set(id, Buffer.from(data));
      return meta(id);
    },
    async deleteBlob() {
      return true;
    },
    // A node too old for PullBlob: the copy streams through the copier, which these tests watch.
    pullBlob: tooOldToPull,
  };
  const pool = { isLive: () => true, client: () => client, failed: () => undefined } as unknown as NodePool;
  return {
    pool,
    stored,
    mostStreaming: () => mostStreaming,
    waitingReads: () => gates.length,
    release: () => gates.shift()?.(),
  };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** What NodeClient.pullBlob gives for a node that could read from none of the sources. */
const unreachedSources = async (): Promise<never> => {
  throw new MiniS3Error(ErrorCode.BytesUnreachable, "no source of the blob could be read from this node");
};

/** What NodeClient.pullBlob gives for a node that does not serve PullBlob. */
const tooOldToPull = async (): Promise<never> => {
  throw new PullUnsupported("node t does not serve PullBlob");
};

test("large copies stream one at a time, small ones pass beside them, and every copy arrives whole", async () => {
  const blobs = new Map<string, Buffer>([
    ["big-1", Buffer.alloc(5000, 1)],
    ["big-2", Buffer.alloc(6000, 2)],
    ["big-3", Buffer.alloc(7000, 3)],
    ["small", Buffer.alloc(100, 4)],
  ]);
  const nodes = fakeNodes(blobs);
  const copier = new BlobCopier(nodes.pool, silentLog, SMALL_MAX);
  const copy = (id: string) => copier.copy(versionOf(id, blobs.get(id)!, ["src"], { state: "trash" }), ["src"], ["dst"], 1);

  const big = ["big-1", "big-2", "big-3"].map(copy);
  await tick();
  expect(await copy("small")).toEqual(["dst"]); // not queued behind the large ones
  for (let i = 0; i < 3; i++) {
    for (let t = 0; t < 20 && nodes.waitingReads() === 0; t++) await tick();
    expect(nodes.waitingReads()).toBe(1);
    nodes.release();
  }
  expect(await Promise.all(big)).toEqual([["dst"], ["dst"], ["dst"]]);
  expect(nodes.mostStreaming()).toBe(1);
  for (const [id, data] of blobs) expect(nodes.stored.get(id)?.equals(data)).toBe(true);
});

test("a large copy hands each chunk back to its reader once every target has taken it, not before", async () => {
  // The reader's chunks are slices of reused read buffers (blob-http-get.ts): handed back, they are read into again.
  const data = Buffer.alloc(8 * 4096, 7);
  const taken = new Map<Buffer, number>(); // chunk → targets that have it
  const handedBack: Buffer[] = [];
  const early: Buffer[] = [];
  const meta: BlobMeta = { blobId: "big", size: data.length, sha256: Buffer.alloc(32), storedAtMs: 0, attributes: {} };
  const target = (stored: Buffer[]): BlobUpload => ({
    async write(chunk: Buffer) {
      await tick();
      stored.push(Buffer.from(chunk));
      taken.set(chunk, (taken.get(chunk) ?? 0) + 1);
    },
    async finish() {
      return meta;
    },
    abort() {
      /* nothing kept */
    },
  });
  const stored: Record<string, Buffer[]> = { t1: [], t2: [] };
  const clientOf = (id: string) => ({
    async readBlob(): Promise<BlobRead> {
      const chunks = Array.from({ length: 8 }, (_, i) => data.subarray(i * 4096, (i + 1) * 4096));
      async function* read() {
        yield* chunks;
      }
      const recycle = (chunk: Buffer) => {
        if (taken.get(chunk) !== 2) early.push(chunk);
        handedBack.push(chunk);
      };
      return { meta, offset: 0, length: data.length, chunks: read(), recycle };
    },
    async connected() {
      return true;
    },
    writeBlob: () => target(stored[id]),
    pullBlob: tooOldToPull,
  });
  const pool = { isLive: () => true, client: clientOf, failed: () => undefined } as unknown as NodePool;
  const copier = new BlobCopier(pool, silentLog, SMALL_MAX);
  expect((await copier.copy(versionOf("big", data, ["src"], { state: "trash" }), ["src"], ["t1", "t2"], 2)).sort()).toEqual(["t1", "t2"]);
  expect(handedBack.length).toBe(8);
  expect(early).toEqual([]);
  for (const id of ["t1", "t2"]) expect(Buffer.concat(stored[id]).equals(data)).toBe(true);
});

describe("copy fail-over", () => {
  const CHUNK = 64 * 1024;
  let nodes: InProcessNodes;
  let copier: BlobCopier;

  beforeAll(async () => {
    nodes = await startNodes([{ id: "s1" }, { id: "s2" }, { id: "t1" }, { id: "t2" }, { id: "down", unreachable: true }], CHUNK);
    copier = new BlobCopier(nodes.pool, silentLog, CHUNK);
  });
  afterAll(() => nodes.close());
  afterEach(() => {
    for (const id of ["s1", "s2"]) Object.assign(nodes.backend(id), { breakReadsAfter: undefined, corruptReads: false });
    jest.restoreAllMocks();
  });

  /** Every node as one too old for PullBlob: large copies stream through the copier. */
  const relayOnly = () => {
    for (const id of ["s1", "s2", "t1", "t2", "down"]) jest.spyOn(nodes.pool.client(id), "pullBlob").mockImplementation(tooOldToPull);
  };
  /** The coordinator's own reads of the sources' copies. */
  const coordinatorReads = () => ["s1", "s2"].map((id) => jest.spyOn(nodes.pool.client(id), "readBlob"));

  it("a large copy is pulled by its targets from a source, node to node: the copier reads none of it", async () => {
    const { data } = blobOf(6 * CHUNK + 3);
    const v = await nodes.store("c-pull", data, ["s1", "s2"]);
    const reads = coordinatorReads();
    expect((await copier.copy(v, ["s1", "s2"], ["t1", "t2"], 2, { bucket: "b", key: "k" })).sort()).toEqual(["t1", "t2"]);
    for (const r of reads) expect(r).not.toHaveBeenCalled();
    for (const t of ["t1", "t2"]) {
      expect((await copyOn(t, "c-pull")).equals(data)).toBe(true);
      expect(await nodes.backend(t).stat("c-pull")).toMatchObject({ size: data.length, attributes: { bucket: "b", key: "k" } });
      expect((await nodes.backend(t).disk.verify("c-pull")).verdict).toBe("ok");
    }
  });

  it("a pull whose source breaks mid-stream starts over on the next source", async () => {
    const { data } = blobOf(4 * CHUNK + 9);
    const v = await nodes.store("c-pull-break", data, ["s1", "s2"]);
    nodes.backend("s1").breakReadsAfter = CHUNK;
    expect(await copier.copy(v, ["s1", "s2"], ["t1"], 1)).toEqual(["t1"]);
    expect((await copyOn("t1", "c-pull-break")).equals(data)).toBe(true);
    expect(nodes.backend("s2").reads.filter((r) => r.blobId === "c-pull-break")).toEqual([{ blobId: "c-pull-break", offset: 0 }]);
  });

  it.each([
    ["a node too old for the call", tooOldToPull],
    ["one that reached no source", unreachedSources],
  ])("a target that cannot pull (%s) gets the copy streamed through the copier", async (_, failure) => {
    const { data } = blobOf(3 * CHUNK + 1);
    const v = await nodes.store("c-pull-old", data, ["s1"]);
    jest.spyOn(nodes.pool.client("t2"), "pullBlob").mockImplementation(failure);
    const reads = coordinatorReads();
    expect((await copier.copy(v, ["s1"], ["t1", "t2"], 2)).sort()).toEqual(["t1", "t2"]);
    expect(reads[0]).toHaveBeenCalledTimes(1); // t2's bytes only: t1 pulled its own
    for (const t of ["t1", "t2"]) expect((await copyOn(t, "c-pull-old")).equals(data)).toBe(true);
  });

  it("a pull refuses a source copy that is not the blob named, and leaves nothing", async () => {
    const { data } = blobOf(2 * CHUNK + 5);
    await nodes.store("c-pull-other", data, ["s1"]);
    const source = { nodeId: "s1", address: nodes.pool.client("s1").address };
    const wrong = Buffer.alloc(32, 7);
    await expect(nodes.pool.client("t1").pullBlob("c-pull-other", {}, data.length, wrong, [source])).rejects.toBeInstanceOf(IntegrityError);
    await expect(nodes.pool.client("t1").pullBlob("c-pull-other", {}, data.length + 1, wrong, [source])).rejects.toBeInstanceOf(
      IntegrityError,
    );
    expect(await nodes.backend("t1").stat("c-pull-other")).toBeNull();
  });

  it("a pull whose own disk fails answers that at once: no other source is read and nothing is streamed to it", async () => {
    const { data } = blobOf(4 * CHUNK + 3);
    const v = await nodes.store("c-pull-disk", data, ["s1", "s2"]);
    nodes.backend("t1").breakWritesAfter = CHUNK;
    const reads = coordinatorReads();
    try {
      await expect(copier.copy(v, ["s1", "s2"], ["t1"], 1)).rejects.toMatchObject({ code: ErrorCode.QuorumNotReached });
    } finally {
      nodes.backend("t1").breakWritesAfter = undefined;
    }
    for (const r of reads) expect(r).not.toHaveBeenCalled();
    expect(nodes.backend("s2").reads.filter((r) => r.blobId === "c-pull-disk")).toEqual([]);
    expect(await nodes.backend("t1").stat("c-pull-disk")).toBeNull();
  });

  it("a pull that reaches no source answers BytesUnreachable, and a copy whose targets failed otherwise is not streamed to them", async () => {
    const { data } = blobOf(2 * CHUNK + 5);
    const v = await nodes.store("c-pull-none", data, ["s1"]);
    const down = { nodeId: "down", address: nodes.pool.client("down").address };
    await expect(
      nodes.pool.client("t1").pullBlob("c-pull-none", {}, data.length, Buffer.from(v.sha256, "hex"), [down]),
    ).rejects.toMatchObject({
      code: ErrorCode.BytesUnreachable,
    });
    expect(await nodes.backend("t1").stat("c-pull-none")).toBeNull();
    // A target that is down fails its pull as unreachable: nothing is streamed to it after.
    const reads = coordinatorReads();
    await expect(copier.copy(v, ["s1"], ["down"], 1)).rejects.toMatchObject({ code: ErrorCode.QuorumNotReached });
    for (const r of reads) expect(r).not.toHaveBeenCalled();
  });

  const copyOn = async (id: string, versionId: string) => {
    const read = await nodes.backend(id).disk.read(versionId, 0, undefined);
    return collect(read.chunks);
  };

  it("a large copy streamed through the copier, whose source breaks mid-stream, resumes on the next source", async () => {
    relayOnly();
    const { data } = blobOf(4 * CHUNK + 5);
    const v = await nodes.store("c-resume", data, ["s1", "s2"]);
    nodes.backend("s1").breakReadsAfter = CHUNK;
    expect((await copier.copy(v, ["s1", "s2"], ["t1", "t2"], 2)).sort()).toEqual(["t1", "t2"]);
    expect((await copyOn("t2", "c-resume")).equals(data)).toBe(true);
    expect(nodes.backend("s2").reads.find((r) => r.blobId === "c-resume")!.offset).toBeGreaterThan(0);
  });

  it("a copy the targets refuse as corrupt starts over from the next source, small and large alike", async () => {
    for (const [id, size] of [
      ["c-rot-small", 1000],
      ["c-rot-large", 3 * CHUNK],
    ] as const) {
      const { data } = blobOf(size);
      const v = await nodes.store(id, data, ["s1", "s2"]);
      nodes.backend("s1").corruptReads = true;
      expect(await copier.copy(v, ["s1", "s2"], ["t1"], 1)).toEqual(["t1"]);
      expect((await copyOn("t1", id)).equals(data)).toBe(true);
      expect(nodes.backend("s2").reads.map((r) => r.blobId)).toContain(id);
    }
  });

  it("a large copy's targets check it by the source copy's block crc32s, not by hashing it", async () => {
    const { data } = blobOf(5 * CHUNK + 7);
    const v = await nodes.store("c-fold", data, ["s1", "s2"]);
    expect((await copier.copy(v, ["s1", "s2"], ["t1", "t2"], 2)).sort()).toEqual(["t1", "t2"]);
    for (const t of ["t1", "t2"]) {
      expect(nodes.backend(t).writeChecks.filter((w) => w.blobId === "c-fold")).toEqual([{ blobId: "c-fold", check: "blockCrc" }]);
      expect((await copyOn(t, "c-fold")).equals(data)).toBe(true);
      // The copy keeps the catalogue's sha256, and its bytes pass a read that hashes them.
      expect((await nodes.backend(t).disk.verify("c-fold")).verdict).toBe("ok");
    }
  });

  it("a large copy whose source's bytes change on the way fails the fold at the targets and starts over from the next source", async () => {
    const { data } = blobOf(3 * CHUNK + 1);
    const v = await nodes.store("c-fold-rot", data, ["s1", "s2"]);
    nodes.backend("s1").corruptReads = true; // bits flipped after s1 checked its blocks: only the target can tell
    expect(await copier.copy(v, ["s1", "s2"], ["t1"], 1)).toEqual(["t1"]);
    expect(
      nodes
        .backend("t1")
        .writeChecks.filter((w) => w.blobId === "c-fold-rot")
        .map((w) => w.check),
    ).toEqual(["blockCrc", "blockCrc"]);
    expect((await copyOn("t1", "c-fold-rot")).equals(data)).toBe(true);
  });

  it("a copy from a single corrupt source fails as corrupt and leaves no copy behind", async () => {
    const { data } = blobOf(2000);
    const v = await nodes.store("c-rot-only", data, ["s1"]);
    nodes.backend("s1").corruptReads = true;
    await expect(copier.copy(v, ["s1"], ["t1", "t2"], 1)).rejects.toBeInstanceOf(IntegrityError);
    expect(await nodes.backend("t1").stat("c-rot-only")).toBeNull();
  });

  it("a copy goes to the targets it is given: one down is not replaced by another node", async () => {
    const { data } = blobOf(1000);
    const v = await nodes.store("c-fixed", data, ["s1"]);
    expect(await copier.copy(v, ["s1"], ["t1", "down"], 1)).toEqual(["t1"]);
    expect(await nodes.backend("t2").stat("c-fixed")).toBeNull();
    await expect(copier.copy(v, ["s1"], ["down"], 1)).rejects.toThrow(/write quorum is 1/);
  });

  it("a small version the body cache holds is copied from it: its sources are not read, and may be gone", async () => {
    const bodies = new BodyCache(1 << 20, CHUNK);
    const cached = new BlobCopier(nodes.pool, silentLog, CHUNK, bodies);
    const { data } = blobOf(4096);
    const v = await nodes.store("c-cached", data, ["s1"]);
    bodies.put(v.versionId, data); // as the upload that made it left it
    await nodes.backend("s1").delete("c-cached");
    expect(await cached.copy(v, ["s1"], ["t1"], 1)).toEqual(["t1"]);
    expect((await copyOn("t1", "c-cached")).equals(data)).toBe(true);
    expect(nodes.backend("s1").reads.map((r) => r.blobId)).not.toContain("c-cached");
  });
});
