import { performance } from "node:perf_hooks";
import { ErrorCode } from "../../common/errors";
import { blobOf, collect, silentLog } from "../../rpc/testing/test-helpers";
import { BlobCopier } from "./blob-copier";
import { ReplicaReader } from "./replica-reader";
import { ReplicaWriter } from "./replica-writer";
import { startNodes, type InProcessNodes } from "./testing/in-process-nodes";

// Nodes that are alive (they answer HTTP/2 pings) but stuck: a commit whose fsync never returns, a
// write or a read stuck in the kernel, a listing that stops. No call may wait for them forever
// (correctness review, finding 8): streams fail after a spell without progress, a commit after its
// own deadline, and a replicated upload that has its quorum does not wait for a stuck extra replica.

const CHUNK = 64 * 1024;
const IDLE_MS = 400;
const COMMIT_MS = 800;
/** Far above the deadlines, far below "forever": what a stuck call may take on a busy machine. */
const BOUND_MS = 8_000;

async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    return { ms: performance.now() - t0, value: await p };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}

describe("calls to a stuck node end", () => {
  let nodes: InProcessNodes;
  const ids = ["n1", "n2", "n3", "n4"];

  beforeAll(async () => {
    nodes = await startNodes(
      ids.map((id) => ({ id })),
      CHUNK,
      { idleMs: IDLE_MS, commitMs: COMMIT_MS },
    );
  });
  afterAll(() => nodes.close());
  afterEach(() => {
    for (const id of ids) {
      const b = nodes.backend(id);
      Object.assign(b, { stallCommits: false, stallWritesAfter: undefined, stallReadsAfter: undefined, stallListAfter: undefined });
      b.releaseStalls();
      nodes.directory.refresh(); // suspicion of a node that stalled ends with the test
    }
  });

  const holds = async (id: string, versionId: string) => (await nodes.backend(id).stat(versionId)) !== null;

  async function sendLarge(writer: ReplicaWriter, versionId: string, targets: string[], quorum: number, size: number) {
    const b = blobOf(size);
    const up = writer.startLarge(versionId, targets, quorum);
    try {
      for (let at = 0; at < size; at += CHUNK) await up.write(b.data.subarray(at, at + CHUNK));
      return await up.finish(size, b.sha256);
    } catch (e) {
      up.abort();
      throw e;
    }
  }

  it("WriteBlob to a node that takes every byte but never commits fails after the commit deadline", async () => {
    nodes.backend("n1").stallCommits = true;
    const r = await timed(sendLarge(new ReplicaWriter(nodes.pool, silentLog), "s-commit", ["n1"], 1, 3 * CHUNK));
    expect(r.error).toMatchObject({ code: ErrorCode.QuorumNotReached });
    expect(String(r.error)).toMatch(/did not commit/);
    expect(r.ms).toBeGreaterThanOrEqual(COMMIT_MS - 50);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });

  it("WriteBlob to a node that stops taking bytes fails after the idle deadline, however long the body", async () => {
    nodes.backend("n1").stallWritesAfter = CHUNK;
    // More than every buffer on the way holds (HTTP/2 window, both streams' queues): the sender must wait.
    const r = await timed(sendLarge(new ReplicaWriter(nodes.pool, silentLog), "s-write", ["n1"], 1, 32 * 1024 * 1024));
    expect(r.error).toMatchObject({ code: ErrorCode.QuorumNotReached });
    expect(String(r.error)).toMatch(/took no data/);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });

  it("a slow WriteBlob that keeps moving is not cut off by the idle deadline", async () => {
    const b = blobOf(6 * CHUNK);
    const up = nodes.pool.client("n2").writeBlob("s-slow", {});
    for (let at = 0; at < b.data.length; at += CHUNK) {
      await up.write(b.data.subarray(at, at + CHUNK));
      await new Promise((r) => setTimeout(r, IDLE_MS / 2)); // 3 idle deadlines in all, none of them without progress
    }
    expect((await up.finish(b.data.length, b.sha256)).size).toBe(b.data.length);
  });

  it("ReadBlob from a node that stops sending mid-stream fails after the idle deadline; the reader resumes on the next replica", async () => {
    const { data } = blobOf(6 * CHUNK + 7);
    const v = await nodes.store("s-read", data, ["n1", "n2"]);
    nodes.backend("n1").stallReadsAfter = 2 * CHUNK;
    const reader = new ReplicaReader(nodes.pool, CHUNK, silentLog);
    const r = await timed(reader.open(v, 0, data.length, undefined).then(collect));
    expect(r.error).toBeUndefined();
    expect(r.value!.equals(data)).toBe(true);
    expect(nodes.backend("n2").reads.at(-1)!.offset).toBeGreaterThan(0); // resumed, not started over
    expect(r.ms).toBeLessThan(BOUND_MS);

    // With no other replica the read fails as unreachable, instead of hanging.
    const alone = await nodes.store("s-read-alone", data, ["n1"]);
    const r2 = await timed(reader.open(alone, 0, data.length, undefined).then(collect));
    expect(r2.error).toMatchObject({ code: ErrorCode.NodeUnavailable });
    expect(String(r2.error)).toMatch(/sent nothing/);
    expect(r2.ms).toBeLessThan(BOUND_MS);
  });

  it("a ReadBlob whose reader takes its time is not cut off: the deadline counts only the node's silences", async () => {
    const { data } = blobOf(4 * CHUNK);
    const v = await nodes.store("s-read-slow", data, ["n3"]);
    const read = await nodes.pool.client("n3").readBlob(v.versionId);
    const parts: Buffer[] = [];
    for await (const chunk of read.chunks) {
      parts.push(chunk);
      await new Promise((r) => setTimeout(r, IDLE_MS * 1.5));
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it("ListBlobs from a node that stops sending fails after the idle deadline", async () => {
    for (let i = 0; i < 3; i++) await nodes.store(`s-list-${i}`, blobOf(100).data, ["n4"]);
    nodes.backend("n4").stallListAfter = 1;
    const seen: string[] = [];
    const list = async () => {
      for await (const m of nodes.pool.client("n4").listBlobs()) seen.push(m.blobId);
    };
    const r = await timed(list());
    expect(r.error).toMatchObject({ code: ErrorCode.NodeUnavailable });
    expect(seen).toHaveLength(1);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });

  it("a stuck large copy fails within the deadline and the next large copy, queued behind it, finishes", async () => {
    const copier = new BlobCopier(nodes.pool, silentLog, CHUNK);
    const a = blobOf(5 * CHUNK);
    const b = blobOf(5 * CHUNK);
    const va = await nodes.store("s-copy-a", a.data, ["n1"]);
    const vb = await nodes.store("s-copy-b", b.data, ["n1"]);
    nodes.backend("n3").stallCommits = true;
    const stuck = timed(copier.copy(va, ["n1"], ["n3"], 1));
    const next = timed(copier.copy(vb, ["n1"], ["n4"], 1));
    const [rs, rn] = await Promise.all([stuck, next]);
    expect(rs.error).toMatchObject({ code: ErrorCode.QuorumNotReached });
    expect(rs.ms).toBeLessThan(BOUND_MS);
    expect(rn.value).toEqual(["n4"]);
    expect(await holds("n4", "s-copy-b")).toBe(true);
    expect(await holds("n3", "s-copy-a")).toBe(false);
  });

  it("an upload that has its write quorum does not wait for a stuck extra replica, and that replica's late copy is discarded", async () => {
    // A long commit deadline: the upload must return on its quorum, not on the stuck call's deadline.
    const slowDeadlines = await startNodes([{ id: "q1" }, { id: "q2" }, { id: "q3" }], CHUNK, { commitMs: 60_000 });
    try {
      const holds3 = async () => (await slowDeadlines.backend("q3").stat("s-quorum")) !== null;
      slowDeadlines.backend("q3").stallCommits = true;
      const writer = new ReplicaWriter(slowDeadlines.pool, silentLog);
      const b = blobOf(3 * CHUNK);
      const up = writer.startLarge("s-quorum", ["q1", "q2", "q3"], 2);
      for (let at = 0; at < b.data.length; at += CHUNK) await up.write(b.data.subarray(at, at + CHUNK));
      const r = await timed(up.finish(b.data.length, b.sha256));
      expect(r.error).toBeUndefined();
      expect(r.value!.sort()).toEqual(["q1", "q2"]);
      expect(r.ms).toBeLessThan(BOUND_MS);
      // Not settled while the straggler's commit is out (a replacement would be sent the kept chunks):
      // the chunks may not be reused yet.
      let settled = false;
      const settling = up.settled().then(() => (settled = true));
      await new Promise((res) => setTimeout(res, 200));
      expect(settled).toBe(false);
      // The stuck disk comes back; the copy it then commits (or fails) is not left behind unlisted.
      slowDeadlines.backend("q3").stallCommits = false;
      slowDeadlines.backend("q3").releaseStalls(true);
      await settling;
      expect(settled).toBe(true);
      const settle = async (done: () => Promise<boolean>) => {
        for (let i = 0; i < 100 && !(await done()); i++) await new Promise((res) => setTimeout(res, 50));
      };
      await settle(async () => slowDeadlines.backend("q3").commits.includes("s-quorum"));
      expect(slowDeadlines.backend("q3").commits).toContain("s-quorum"); // committed late...
      await settle(async () => !(await holds3()));
      expect(await holds3()).toBe(false); // ...and then discarded: the version lists q1 and q2 only
    } finally {
      await slowDeadlines.close();
    }
  });
});
