import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createConnection } from "mysql2/promise";
import { Redis } from "ioredis";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { makeStubRoot } from "../support/stubs";

// The harness itself, on stub services (test/support/stubs): ports, ids, restarts, clean-up.
// End-to-end tests of the real services use the same harness on dist/.

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe("startCluster (stub services)", () => {
  let root: string;
  let cluster: TestCluster;

  beforeAll(async () => {
    root = await makeStubRoot();
    cluster = await startCluster({ root, storageNodes: 2, env: { STUB_BEHAVIOUR: "crash-once", MINIS3_REPLICAS: "2" } });
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("starts every planned process on its own free port and reports healthy", async () => {
    expect(cluster.processes.map((p) => p.name)).toEqual(["coordinator", "storage-1", "storage-2", "backup-1", "delete-1"]);
    expect(cluster.processes.every((p) => p.running && p.pid !== undefined)).toBe(true);
    expect(cluster.dbName).toMatch(/^minis3_t_[0-9a-f]{10}$/);
    expect(cluster.mysqlUrl).toMatch(new RegExp(`/${cluster.dbName}$`));
    expect(cluster.prefix).toMatch(/^minis3_t_[0-9a-f]+$/);
    const res = await fetch(`${cluster.httpUrl}/healthz`);
    expect(res.status).toBe(200);
    const node = cluster.specs.find((s) => s.name === "storage-2")!;
    expect(node.env.MINIS3_DATA_DIR).toBe(join(cluster.dataDir, "storage-2"));
    expect(node.env.MINIS3_QUEUE_PREFIX).toBe(cluster.prefix);
    expect(node.env.MINIS3_MYSQL_URL).toBe(cluster.mysqlUrl);
    const nodeRes = await fetch(`http://${node.address}/healthz`);
    expect(await nodeRes.json()).toEqual({ ok: true, id: "storage-2" });
  });

  it("restarted the nodes that crashed at start, and keeps their output", async () => {
    await until("storage-1 restarted", () => cluster.processes.find((p) => p.name === "storage-1")!.restarts >= 1);
    expect(cluster.logs("storage-1").join("\n")).toMatch(/crashing on purpose[\s\S]*listening/);
  });

  it("stopNode keeps a node down until startNode", async () => {
    const pid = cluster.pid("storage-2")!;
    const exit = await cluster.stopNode("storage-2");
    expect(exit).toEqual({ code: 0, signal: null });
    expect(alive(pid)).toBe(false);
    await sleep(600); // longer than the restart backoff: a deliberate stop is not restarted
    expect(cluster.pid("storage-2")).toBeUndefined();
    cluster.startNode("storage-2");
    await until("storage-2 listening", () => cluster.logs("storage-2").filter((l) => l.includes("listening")).length >= 2);
  });

  it("stopNode with SIGKILL simulates a crash without a restart", async () => {
    const exit = await cluster.stopNode("backup-1", "SIGKILL");
    expect(exit).toEqual({ code: null, signal: "SIGKILL" });
    await sleep(400);
    expect(cluster.pid("backup-1")).toBeUndefined();
    cluster.startNode("backup-1");
    expect(cluster.pid("backup-1")).toBeDefined();
  });

  it("restarts a process that dies unexpectedly", async () => {
    const before = cluster.processes.find((p) => p.name === "delete-1")!;
    process.kill(before.pid!, "SIGKILL");
    await until("delete-1 back", () => {
      const p = cluster.processes.find((x) => x.name === "delete-1")!;
      return p.running && p.pid !== before.pid;
    });
    expect(cluster.processes.find((p) => p.name === "delete-1")!.restarts).toBe(before.restarts + 1);
  });

  it("restart() replaces the coordinator and it is healthy again", async () => {
    const pid = cluster.pid("coordinator");
    await cluster.restart("coordinator");
    expect(cluster.pid("coordinator")).not.toBe(pid);
    await cluster.waitHealthy(5000);
  });

  it("stop() ends every process and removes the database, queue keys and data dir", async () => {
    // what the services would have made
    const conn = await createConnection({ host: "127.0.0.1", user: "root" });
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${cluster.dbName}\``);
    const redis = new Redis(cluster.redisUrl);
    await redis.set(`{${cluster.prefix}}:lifecycle:id`, "1");
    await redis.set(`bull:${cluster.prefix}:x`, "1");
    const pids = cluster.processes.map((p) => p.pid!);

    await cluster.stop();

    expect(pids.filter(alive)).toEqual([]);
    const [rows] = await conn.query("SHOW DATABASES LIKE ?", [cluster.dbName]);
    expect(rows).toEqual([]);
    expect(await redis.keys(`*${cluster.prefix}*`)).toEqual([]);
    expect(existsSync(cluster.dataDir)).toBe(false);
    await conn.end();
    redis.disconnect();
  });
});

describe("startCluster failures", () => {
  it("fails fast, with each process's output, when a service rejects its configuration", async () => {
    const root = await makeStubRoot();
    try {
      const started = Date.now();
      await expect(startCluster({ root, storageNodes: 1, env: { STUB_BEHAVIOUR: "config-error" } })).rejects.toThrow(
        /invalid configuration[\s\S]*coordinator: exited/,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("says how to build when dist/ is missing", async () => {
    await expect(startCluster({ root: "/nonexistent-minis3-root" })).rejects.toThrow(/not built[\s\S]*tsc -p tsconfig.build.json/);
  });
});
