import type { Pool } from "mysql2/promise";
import { ErrorCode, errorOf, IntegrityError } from "../../common/errors";
import { startNodeServer } from "../../rpc/server/node-server";
import { failingBackend } from "../../rpc/testing/failing-backend";
import { blobOf, silentLog } from "../../rpc/testing/test-helpers";
import { NodeDirectory } from "./node-directory";
import { NodePool } from "./node-pool";

/** The nodes-table row of one storage node at `address`, silent for `ageMs`, its process started at `started`. */
const nodeRow = (address: string, ageMs = 0, started = 1_000) => ({
  id: "n1",
  kind: "storage",
  address,
  zone: "z",
  state: "active",
  blob_count: 0,
  used_bytes: 0,
  free_bytes: 1,
  hb: Date.now(),
  started,
  age_ms: ageMs,
});

/** A NodeDirectory over one heartbeating storage node at `address`. */
async function directoryOf(address: string): Promise<NodeDirectory> {
  const pool = { query: async () => [[nodeRow(address)]] } as unknown as Pool;
  const directory = new NodeDirectory(pool, 60_000, 60_000, silentLog);
  await directory.refresh();
  return directory;
}

/** The error of a small put to node n1 through the pool (every test here expects one). */
function failedPut(pool: NodePool): Promise<unknown> {
  const b = blobOf(10);
  return pool
    .client("n1")
    .putSmall("b1", {}, b.data, b.sha256)
    .then(
      () => undefined,
      (x: unknown) => x,
    );
}

describe("NodePool.failed: only an unreachable node is suspected", () => {
  test.each([
    ["its catalogue is down", () => errorOf(ErrorCode.CatalogueUnavailable, "MariaDB did not answer")],
    ["a checksum did not match", () => new IntegrityError("sha256 mismatch")],
    ["its disk store is closed", () => errorOf(ErrorCode.StoreUnavailable, "segment store is closed")],
    ["it crashed on a bug", () => new Error("undefined is not a function")],
  ])("a node that answers (%s) stays live", async (_what, failure) => {
    const server = await startNodeServer(failingBackend(failure), "127.0.0.1", 0, { id: "n1", chunkSize: 1024, log: silentLog });
    const directory = await directoryOf(`127.0.0.1:${server.port}`);
    const pool = new NodePool(directory, silentLog);
    try {
      const e = await failedPut(pool);
      expect(e).toBeInstanceOf(Error);
      pool.failed("n1", e);
      expect(pool.isLive("n1")).toBe(true);
    } finally {
      pool.close();
      await server.stop(0);
    }
  });

  test("a node that refuses our cluster secret stays live, and the refusal is logged loudly", async () => {
    const server = await startNodeServer(
      failingBackend(() => new Error("unused")),
      "127.0.0.1",
      0,
      { id: "n1", chunkSize: 1024, log: silentLog, clusterSecret: "the-nodes-own-secret" },
    );
    const directory = await directoryOf(`127.0.0.1:${server.port}`);
    const errors: string[] = [];
    const log = { ...silentLog, error: (_o: unknown, msg: string) => errors.push(msg) } as unknown as typeof silentLog;
    const pool = new NodePool(directory, log, { clusterSecret: "a-different-secret" });
    try {
      const e = await failedPut(pool);
      expect(e).toMatchObject({ code: ErrorCode.InvalidConfig });
      pool.failed("n1", e);
      pool.failed("n1", e);
      expect(pool.isLive("n1")).toBe(true);
      expect(errors).toEqual([expect.stringContaining("MINIS3_CLUSTER_SECRET")]); // once, not per call
    } finally {
      pool.close();
      await server.stop(0);
    }
  });

  test("a node that does not answer is suspected", async () => {
    const server = await startNodeServer(
      failingBackend(() => new Error("unused")),
      "127.0.0.1",
      0,
      { id: "n1", chunkSize: 1024, log: silentLog },
    );
    const directory = await directoryOf(`127.0.0.1:${server.port}`);
    await server.stop(0);
    const pool = new NodePool(directory, silentLog);
    try {
      const e = await failedPut(pool);
      expect(e).toMatchObject({ code: ErrorCode.NodeUnavailable });
      pool.failed("n1", e);
      expect(pool.isLive("n1")).toBe(false);
    } finally {
      pool.close();
    }
  });

  test("a node that does not answer stays suspected across directory refreshes, until a probe reaches it (finding 9)", async () => {
    const backend = failingBackend(() => new Error("unused"));
    const opts = { id: "n1", chunkSize: 1024, log: silentLog };
    const first = await startNodeServer(
      { ...backend, stats: async () => ({ blobCount: 0, usedBytes: 0, freeBytes: 1 }) },
      "127.0.0.1",
      0,
      opts,
    );
    const port = first.port;
    const directory = await directoryOf(`127.0.0.1:${port}`); // its heartbeat row stays fresh throughout
    await first.stop(0);
    const pool = new NodePool(directory, silentLog);
    try {
      pool.failed("n1", await failedPut(pool));
      expect(pool.isLive("n1")).toBe(false);
      await directory.refresh();
      expect(pool.isLive("n1")).toBe(false); // the heartbeat alone does not bring it back
      expect(directory.heartbeating("n1")).toBe(true);
      await new Promise((r) => setTimeout(r, 1000)); // several probes fail meanwhile
      await directory.refresh();
      expect(pool.isLive("n1")).toBe(false);

      const again = await startNodeServer(
        { ...backend, stats: async () => ({ blobCount: 0, usedBytes: 0, freeBytes: 1 }) },
        "127.0.0.1",
        port,
        opts,
      );
      try {
        for (let i = 0; i < 100 && !pool.isLive("n1"); i++) await new Promise((r) => setTimeout(r, 100));
        expect(pool.isLive("n1")).toBe(true); // a probe reached it
      } finally {
        await again.stop(0);
      }
    } finally {
      pool.close();
    }
  });
});

describe("NodePool: a node back from an outage", () => {
  test("is dialled afresh, so the first call after its return reaches it", async () => {
    const answered = () => new IntegrityError("sha256 mismatch"); // an answer from the node, not a transport failure
    const opts = { id: "n1", chunkSize: 1024, log: silentLog };
    let server = await startNodeServer(failingBackend(answered), "127.0.0.1", 0, opts);
    const port = server.port;
    let ageMs = 0;
    const directory = new NodeDirectory(
      { query: async () => [[nodeRow(`127.0.0.1:${port}`, ageMs)]] } as unknown as Pool,
      60_000,
      5_000,
      silentLog,
    );
    await directory.refresh();
    const pool = new NodePool(directory, silentLog);
    const put = () => failedPut(pool);
    try {
      expect(await put()).toBeInstanceOf(IntegrityError);
      // Down: stopped and silent. Calls meanwhile leave its channel waiting out a failed dial.
      await server.stop(0);
      ageMs = 60_000;
      await directory.refresh();
      expect(pool.isLive("n1")).toBe(false);
      for (let i = 0; i < 12; i++) {
        await put();
        await new Promise((r) => setTimeout(r, 250));
      }
      // Back: listening again and heartbeating.
      server = await startNodeServer(failingBackend(answered), "127.0.0.1", port, opts);
      ageMs = 0;
      await directory.refresh();
      expect(pool.isLive("n1")).toBe(true);
      expect(await put()).toBeInstanceOf(IntegrityError);
    } finally {
      pool.close();
      await server.stop(0);
    }
  });
});

describe("NodePool: a suspected node that restarts", () => {
  /** One storage node behind a pool, and the knobs of its heartbeat row. */
  async function restartable() {
    const backend = failingBackend(() => new IntegrityError("sha256 mismatch")); // answers: reachable
    const opts = { id: "n1", chunkSize: 1024, log: silentLog };
    const row = { started: 1_000, ageMs: 0, server: await startNodeServer(backend, "127.0.0.1", 0, opts) };
    const port = row.server.port;
    const directory = new NodeDirectory(
      { query: async () => [[nodeRow(`127.0.0.1:${port}`, row.ageMs, row.started)]] } as unknown as Pool,
      60_000,
      5_000,
      silentLog,
    );
    await directory.refresh();
    const pool = new NodePool(directory, silentLog);
    const restart = async () => (row.server = await startNodeServer(backend, "127.0.0.1", port, opts));
    return { row, directory, pool, restart };
  }

  async function liveWithin(pool: NodePool, ms: number): Promise<boolean> {
    const from = performance.now();
    while (!pool.isLive("n1") && performance.now() - from < ms) await new Promise((r) => setTimeout(r, 20));
    return pool.isLive("n1");
  }

  test("while its row still heartbeats, it is routable again within a probe interval of listening, no refresh needed", async () => {
    const { row, pool, restart } = await restartable();
    try {
      // Killed: calls fail and it is suspected; its row stays fresh (as for MINIS3_NODE_DOWN_AFTER after a kill).
      await row.server.stop(0);
      pool.failed("n1", await failedPut(pool));
      await new Promise((r) => setTimeout(r, 4_000)); // with probes doubling from 0.25 s, the next would be at ~7.75 s
      expect(pool.isLive("n1")).toBe(false);
      await restart();
      expect(await liveWithin(pool, 1_000)).toBe(true);
      expect(await failedPut(pool)).toBeInstanceOf(IntegrityError); // and the call reaches it
    } finally {
      pool.close();
      await row.server.stop(0);
    }
  });

  test("after its row went silent, it is routable again at the refresh that sees its new start time, not at the probe's next backoff step", async () => {
    const { row, directory, pool, restart } = await restartable();
    try {
      await row.server.stop(0);
      pool.failed("n1", await failedPut(pool));
      row.ageMs = 60_000; // silent in MariaDB too: probes back off (0.25 s doubling; after 4 s the next is at ~7.75 s)
      await directory.refresh();
      await new Promise((r) => setTimeout(r, 4_000));
      expect(pool.isLive("n1")).toBe(false);

      // Restarted by its supervisor: listening again, and its first heartbeat gives a new start time.
      await restart();
      row.started = 2_000;
      row.ageMs = 0;
      await directory.refresh();
      expect(await liveWithin(pool, 1_500)).toBe(true);
      expect(await failedPut(pool)).toBeInstanceOf(IntegrityError);
    } finally {
      pool.close();
      await row.server.stop(0);
    }
  });
});

describe("NodePool.asNodesReturn: a request short of nodes", () => {
  const short = () => errorOf(ErrorCode.QuorumNotReached, "only 1 replicas took the upload");

  test("goes again at once when a node returned while its attempt ran, not at the next return", async () => {
    const directory = await directoryOf("127.0.0.1:1");
    const pool = new NodePool(directory, silentLog);
    try {
      const started = performance.now();
      const result = await pool.asNodesReturn(
        async (tried) => {
          if (tried > 0) return "stored";
          directory.emit("returned", ["n1"]); // a node back while this attempt was failing
          throw short();
        },
        (e) => (e as { code?: string }).code === ErrorCode.QuorumNotReached,
      );
      expect(result).toBe("stored");
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      pool.close();
    }
  });

  test("waits for a node to return, and fails at its deadline when none does", async () => {
    const directory = await directoryOf("127.0.0.1:1");
    const pool = new NodePool(directory, silentLog);
    try {
      let attempts = 0;
      const failing = pool.asNodesReturn(
        async () => {
          attempts++;
          throw short();
        },
        () => true,
        performance.now() + 300,
      );
      setTimeout(() => directory.emit("returned", ["n1"]), 100);
      await expect(failing).rejects.toMatchObject({ code: ErrorCode.QuorumNotReached });
      expect(attempts).toBe(2); // once, and again when the node returned
    } finally {
      pool.close();
    }
  });
});
