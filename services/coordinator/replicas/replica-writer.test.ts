import { ErrorCode, MiniS3Error } from "../../common/errors";
import { blobOf, collect, silentLog } from "../../rpc/testing/test-helpers";
import { joinAsChunk } from "../../rpc/wire/blob-stream-codec";
import { ReplicaWriter } from "./replica-writer";
import { ReplayBudget } from "./replay-budget";
import { startNodes, type InProcessNodes } from "./testing/in-process-nodes";

// Writes against real node servers (gRPC, disk backends) in this process; "down" is a node the
// directory holds live whose address refuses connections.

const CHUNK = 64 * 1024;

/** Stops node `id`'s server and has the pool see it fail: a node restarting, down before the upload opens. */
async function stopAndSuspect(nodes: InProcessNodes, id: string): Promise<void> {
  await nodes.stopServer(id);
  nodes.pool.failed(id, new MiniS3Error(ErrorCode.NodeUnavailable, "restarting (test)"));
  expect(nodes.directory.isLive(id)).toBe(false);
}

/**
 * Sends `b` through `up` in CHUNK writes and finishes it; a second in (by when a replica's failure
 * has been seen and the upload waits for a node to return), `meanwhile` runs: a node brought back.
 */
async function uploadWhile(
  up: ReturnType<ReplicaWriter["startLarge"]>,
  b: { data: Buffer; sha256: Buffer },
  meanwhile: () => Promise<void>,
) {
  const done = (async () => {
    for (let at = 0; at < b.data.length; at += CHUNK) await up.write(b.data.subarray(at, at + CHUNK));
    return up.finish(b.data.length, b.sha256);
  })();
  await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  await meanwhile();
  return done;
}

describe("ReplicaWriter", () => {
  let nodes: InProcessNodes;
  let writer: ReplicaWriter;

  beforeAll(async () => {
    nodes = await startNodes(
      [
        { id: "n1" },
        { id: "down1", unreachable: true },
        { id: "n2" },
        { id: "down2", unreachable: true },
        { id: "n3" },
        { id: "k1" },
        { id: "k2" },
        { id: "k3" },
      ],
      CHUNK,
    );
    writer = new ReplicaWriter(nodes.pool, silentLog);
  });
  afterAll(() => nodes.close());

  const holds = async (id: string, versionId: string) => (await nodes.backend(id).stat(versionId)) !== null;

  it("a small write reaches its quorum with one target down, and the down node is suspected", async () => {
    const b = blobOf(1000);
    expect(nodes.directory.isLive("down1")).toBe(true);
    const ok = await writer.putSmall("w-quorum", b.data, { sha256: b.sha256 }, ["n1", "down1", "n2"], 3, 2);
    expect(ok.sort()).toEqual(["n1", "n2"]);
    expect((await nodes.backend("n2").disk.read("w-quorum", 0, undefined)).meta.sha256.equals(b.sha256)).toBe(true);
    expect(nodes.directory.isLive("down1")).toBe(false);
  });

  it("a small write falls over down the preference list past a node that fails", async () => {
    const b = blobOf(2000);
    const ok = await writer.putSmall("w-fallover", b.data, { sha256: b.sha256 }, ["n1", "down2", "n2", "n3"], 3, 2);
    expect(ok.sort()).toEqual(["n1", "n2", "n3"]);
    expect(await holds("n3", "w-fallover")).toBe(true);
  });

  it("with fixed targets (count = all of them) a small write does not fall over", async () => {
    const b = blobOf(3000);
    expect(await writer.putSmall("w-fixed", b.data, { sha256: b.sha256 }, ["n1", "down1"], 2, 1)).toEqual(["n1"]);
    expect(await holds("n2", "w-fixed")).toBe(false);
    expect(await holds("n3", "w-fixed")).toBe(false);
  });

  it("a small write below its quorum discards the copies it made and says so", async () => {
    const b = blobOf(500);
    const put = writer.putSmall("w-lost", b.data, { sha256: b.sha256 }, ["n1", "down1", "down2"], 3, 2);
    await expect(put).rejects.toMatchObject({ code: ErrorCode.QuorumNotReached });
    await expect(put).rejects.toThrow(/write quorum is 2/);
    expect(await holds("n1", "w-lost")).toBe(false);
  });

  it("a large write streams to its targets, reaching the quorum with one target down", async () => {
    const b = blobOf(3 * CHUNK + 17);
    const up = writer.startLarge("w-large", ["n1", "n2", "down1"], 2);
    for (let at = 0; at < b.data.length; at += CHUNK) await up.write(b.data.subarray(at, at + CHUNK));
    expect((await up.finish(b.data.length, b.sha256)).sort()).toEqual(["n1", "n2"]);
    const read = await nodes.backend("n2").disk.read("w-large", 0, undefined);
    expect((await collect(read.chunks)).equals(b.data)).toBe(true);
  });

  // The engine refills a chunk once write() says so (2026-12-02): never one kept for a replacement.
  it("a large write lets the caller refill a chunk only once it keeps no more chunks for a replacement; at once with no spare", async () => {
    const chunk = 1024 * 1024;
    const b = blobOf(10 * chunk);
    const writeAll = async (up: ReturnType<typeof writer.startLarge>) => {
      const refill: boolean[] = [];
      for (let at = 0; at < b.data.length; at += chunk) refill.push(await up.write(joinAsChunk([b.data.subarray(at, at + chunk)], chunk)));
      expect((await up.finish(b.data.length, b.sha256)).sort()).toEqual(["n1", "n2"]);
      return refill;
    };
    expect(await writeAll(writer.startLarge("w-refill", ["n1", "n2"], 2, undefined, ["n3"]))).toEqual([
      ...Array<boolean>(9).fill(false),
      true,
    ]);
    // No spare, so no replacement can ever be sent the chunks: nothing is kept (a copy hands its read buffers back).
    expect(await writeAll(writer.startLarge("w-refill-no-spare", ["n1", "n2"], 2))).toEqual(Array<boolean>(10).fill(true));
  });

  it("what all large writes keep for a replacement is bounded: past the budget a write keeps nothing, and its failed replica is only dropped", async () => {
    const chunk = 1024 * 1024;
    const budget = new ReplayBudget(3 * chunk);
    const bounded = new ReplicaWriter(nodes.pool, silentLog, { replayBudget: budget });
    const b = blobOf(3 * chunk);
    const pieces = [0, 1, 2].map((i) => b.data.subarray(i * chunk, (i + 1) * chunk));
    const send = async (up: ReturnType<typeof bounded.startLarge>, n: number) => {
      const refill: boolean[] = [];
      for (const p of pieces.slice(0, n)) refill.push(await up.write(joinAsChunk([p], chunk)));
      return refill;
    };
    const a = bounded.startLarge("w-budget-a", ["n2", "n3"], 2, undefined, ["n1"]);
    expect(await send(a, 3)).toEqual([false, false, false]); // kept: the whole budget
    expect(budget.used).toBe(3 * chunk);
    // Another write meanwhile finds the budget spent: it keeps nothing (the caller refills every chunk)...
    nodes.backend("n1").breakWritesAfter = chunk;
    try {
      const c = bounded.startLarge("w-budget-c", ["n1", "n2"], 2, undefined, ["n3"]);
      const sent = (async () => {
        expect(await send(c, 3)).toEqual([true, true, true]);
        return c.finish(b.data.length, b.sha256);
      })();
      // ...so when a replica fails it is not replaced from kept chunks: below the write quorum, it fails.
      await expect(sent).rejects.toThrow(/write quorum is 2/);
      c.abort();
      expect(await holds("n3", "w-budget-c")).toBe(false);
    } finally {
      nodes.backend("n1").breakWritesAfter = undefined;
    }
    expect(budget.used).toBe(3 * chunk);
    expect((await a.finish(b.data.length, b.sha256)).sort()).toEqual(["n2", "n3"]);
    await a.settled();
    expect(budget.used).toBe(0); // given back once nothing can be replayed
    const d = bounded.startLarge("w-budget-d", ["n1", "n2"], 2, undefined, ["n3"]);
    expect(await send(d, 3)).toEqual([false, false, false]);
    expect((await d.finish(b.data.length, b.sha256)).sort()).toEqual(["n1", "n2"]);
    await d.settled();
    expect(budget.used).toBe(0);
  });

  it("a large write below its quorum fails, and the copy that got the bytes discards them", async () => {
    const b = blobOf(2 * CHUNK);
    const up = writer.startLarge("w-large-lost", ["n3", "down1", "down2"], 2);
    const send = async () => {
      for (let at = 0; at < b.data.length; at += CHUNK) await up.write(b.data.subarray(at, at + CHUNK));
      return up.finish(b.data.length, b.sha256);
    };
    await expect(send()).rejects.toThrow(/write quorum is 2/);
    expect(await holds("n3", "w-large-lost")).toBe(false);
  });

  it("a large write whose replica fails mid-stream goes on on a spare, which is sent the bytes again", async () => {
    const b = blobOf(6 * CHUNK + 5);
    nodes.backend("n1").breakWritesAfter = 2 * CHUNK;
    try {
      const up = writer.startLarge("w-replaced", ["n1", "n2"], 2, undefined, ["n3"]);
      for (let at = 0; at < b.data.length; at += CHUNK) await up.write(b.data.subarray(at, at + CHUNK));
      expect((await up.finish(b.data.length, b.sha256)).sort()).toEqual(["n2", "n3"]);
    } finally {
      nodes.backend("n1").breakWritesAfter = undefined;
    }
    const read = await nodes.backend("n3").disk.read("w-replaced", 0, undefined);
    expect((await collect(read.chunks)).equals(b.data)).toBe(true);
    expect(await holds("n1", "w-replaced")).toBe(false);
  });

  it("a large write whose replica fails while its only spare is down waits for the spare to return, and goes on there", async () => {
    // Issue 13: one storage node restarting (k3, down since before the upload) as another (k1) fails.
    await stopAndSuspect(nodes, "k3");
    const b = blobOf(6 * CHUNK + 5);
    nodes.backend("k1").breakWritesAfter = 2 * CHUNK;
    try {
      const up = writer.startLarge("w-spare-back", ["k1", "k2"], 2, undefined, ["k3"]);
      // k1 fails within the first second, and the upload must still be waiting for a node then: k3
      // restarted, the pool's probe finds it, and it is live again.
      const replicas = await uploadWhile(up, b, () => nodes.startServer("k3"));
      expect(replicas.sort()).toEqual(["k2", "k3"]);
    } finally {
      nodes.backend("k1").breakWritesAfter = undefined;
    }
    const read = await nodes.backend("k3").disk.read("w-spare-back", 0, undefined);
    expect((await collect(read.chunks)).equals(b.data)).toBe(true);
    expect(await holds("k1", "w-spare-back")).toBe(false);
  });

  it("discard deletes copies and reports the nodes it could not reach", async () => {
    const b = blobOf(100);
    await writer.putSmall("w-discard", b.data, { sha256: b.sha256 }, ["n1", "n2"], 2, 2);
    expect(await writer.discard("w-discard", ["n1", "n2", "down2"])).toEqual(["down2"]);
    expect(await holds("n1", "w-discard")).toBe(false);
    expect(await holds("n2", "w-discard")).toBe(false);
  });
});

describe("ReplicaWriter: a target unreachable at the start that comes back as a replacement", () => {
  let nodes: InProcessNodes;
  let writer: ReplicaWriter;

  beforeAll(async () => {
    nodes = await startNodes([{ id: "r1" }, { id: "r2" }, { id: "r3" }], CHUNK);
    writer = new ReplicaWriter(nodes.pool, silentLog);
  });
  afterAll(() => nodes.close());

  // r1 is restarting when the upload opens (its port refuses connections), so the spare r3 takes its
  // place; r3 then dies within the first bytes, and r1, back by then, replaces it and is sent the
  // chunks kept. Two nodes hold the blob; the upload must say so, once each: the engine commits this
  // list as the version's replicas, and a repair only looks for versions listing fewer than R.
  it("lists each node holding the copy once", async () => {
    await stopAndSuspect(nodes, "r1");
    const b = blobOf(6 * CHUNK + 5);
    nodes.backend("r3").breakWritesAfter = 2 * CHUNK;
    let replicas: string[];
    try {
      const up = writer.startLarge("w-dup", ["r1", "r2"], 2, undefined, ["r3"]);
      // r3 fails within the first second; then r1 is back: the pool's probe finds it live again.
      replicas = await uploadWhile(up, b, () => nodes.startServer("r1"));
    } finally {
      nodes.backend("r3").breakWritesAfter = undefined;
    }
    // The bytes are where they should be: r1 and r2, not r3.
    for (const id of ["r1", "r2"]) {
      const read = await nodes.backend(id).disk.read("w-dup", 0, undefined);
      expect((await collect(read.chunks)).equals(b.data)).toBe(true);
    }
    expect(await nodes.backend("r3").disk.stat("w-dup")).toBeNull();
    // Two copies exist; the answer must name two nodes, not r1 twice (three "copies" for the catalogue).
    expect([...replicas].sort()).toEqual(["r1", "r2"]);
  });
});
