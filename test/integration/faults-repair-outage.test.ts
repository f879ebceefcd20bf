import { createHash, randomBytes } from "node:crypto";
import { startCluster, type ClusterOptions, type TestCluster } from "../../deploy/launcher/cluster";
import { sleep, waitFor } from "../support/wait";
import { retrieve, upload } from "../support/http";
import { statOf } from "../support/api";
import { ClusterInspector } from "../support/cluster-inspector";
import { PrivateMariaDb } from "../support/private-mariadb";

// Outages longer than MINIS3_REPAIR_AFTER that take away every storage node at once (or the
// coordinator's view of them). Repair must never turn "I cannot reach any copy" into "there are no
// copies": after each outage every object reads back byte-exact and sits at R = 2 copies again.

const STORAGE = ["storage-1", "storage-2", "storage-3"];
const R = 2;
// Lost after 3 s down; reconciles often enough that several passes fall inside each outage.
const ENV = { MINIS3_REPAIR_AFTER: "3s", MINIS3_RECONCILE_INTERVAL: "500ms", MINIS3_TRASH_TTL: "10m" };

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Loaded {
  cluster: TestCluster;
  nodes: ClusterInspector;
  bodies: Map<string, Buffer>;
}

/**
 * For a describe block: a cluster with 12 objects on it (one large, streamed in chunks; the rest
 * small), started before its tests and stopped after them. `around` wraps the cluster's life in the
 * test's own set-up and clean-up (a private MariaDB).
 */
function useLoadedCluster(around: { before?: () => Promise<ClusterOptions>; after?: () => Promise<void> } = {}): Loaded {
  const loaded = { bodies: new Map<string, Buffer>() } as Loaded;
  beforeAll(async () => {
    const opts = (await around.before?.()) ?? {};
    loaded.cluster = await startCluster({ storageNodes: 3, ...opts, env: { ...ENV, ...opts.env } });
    loaded.nodes = new ClusterInspector(loaded.cluster);
    for (let i = 0; i < 12; i++) {
      const body = randomBytes(i === 0 ? 2 * 1024 * 1024 : 1000 + i);
      const res = await upload(loaded.cluster.httpUrl, `outage/${i}`, body);
      if (res.status !== 201) throw new Error(`upload outage/${i}: HTTP ${res.status} ${res.body.toString()}`);
      loaded.bodies.set(`outage/${i}`, body);
    }
  }, 120_000);
  afterAll(async () => {
    await loaded.nodes?.close();
    await loaded.cluster?.stop().catch(() => undefined);
    await around.after?.();
  }, 60_000);
  return loaded;
}

/**
 * Every object reads back byte-exact, /stat lists R replicas, each of them holds the right bytes,
 * and no other storage node keeps a copy (stale ones are cleaned up).
 */
async function expectEveryObjectIntact({ cluster, nodes, bodies }: Loaded): Promise<void> {
  await waitFor(
    `every object at ${R} verified replicas`,
    async () => {
      for (const [key, body] of bodies) {
        const s = await statOf(cluster.httpUrl, key);
        if (!s || s.replicas.length !== R) throw new Error(`${key}: replicas ${JSON.stringify(s?.replicas)}`);
        for (const id of s.replicas) {
          if ((await nodes.hashOn(id, s.versionId)).sha256 !== sha(body)) throw new Error(`${key}: wrong bytes on ${id}`);
        }
        const holders = (await nodes.holders(s.versionId)).filter((id) => STORAGE.includes(id)).sort();
        if (holders.join() !== [...s.replicas].sort().join())
          throw new Error(`${key}: held by ${holders.join()}, listed on ${s.replicas.join()}`);
      }
      return true;
    },
    30_000,
    500,
  );
  for (const [key, body] of bodies) {
    const got = await retrieve(cluster.httpUrl, key);
    expect(got.status).toBe(200);
    expect(sha(got.body)).toBe(sha(body));
  }
}

describe("every storage node paused for longer than MINIS3_REPAIR_AFTER", () => {
  const paused = new Set<number>();
  afterAll(() => {
    for (const pid of paused)
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        /* gone */
      }
  });
  const t = useLoadedCluster();

  it("keeps every copy: objects read back byte-exact at R replicas after the nodes resume", async () => {
    // SIGSTOP: the processes stay, the coordinator hears nothing from them (a rack losing its network).
    for (const id of STORAGE) {
      const pid = t.cluster.pid(id)!;
      process.kill(pid, "SIGSTOP");
      paused.add(pid);
    }
    await sleep(10_000); // down after 2 s, lost 3 s later: several reconcile passes see every node lost
    for (const pid of paused) process.kill(pid, "SIGCONT");
    paused.clear();
    await t.cluster.waitHealthy(30_000);
    await expectEveryObjectIntact(t);
  }, 90_000);
});

describe("the whole cluster stopped for longer than MINIS3_REPAIR_AFTER, coordinator started first", () => {
  const t = useLoadedCluster();

  it("keeps every copy: the coordinator does not take nodes it has not yet heard from as lost", async () => {
    // A clean stop of everything (the coordinator first, as `npm start`'s SIGTERM does), then a cold start.
    await t.cluster.stopNode("coordinator");
    await Promise.all([...STORAGE, "backup-1", "delete-1"].map((id) => t.cluster.stopNode(id)));
    await sleep(5_000);
    for (const id of ["coordinator", "backup-1", "delete-1"]) t.cluster.startNode(id);
    await waitFor("coordinator answering", async () => ((await fetch(`${t.cluster.httpUrl}/healthz`)).status ? true : undefined), 30_000);
    await sleep(2_000); // the storage nodes are slower to come up (segment scans, a slow disk)
    for (const id of STORAGE) t.cluster.startNode(id);
    await t.cluster.waitHealthy(30_000);
    await expectEveryObjectIntact(t);
  }, 90_000);
});

describe("MariaDB stopped for longer than MINIS3_REPAIR_AFTER", () => {
  let db: PrivateMariaDb | undefined;
  const t = useLoadedCluster({
    before: async () => {
      db = await PrivateMariaDb.create();
      return { mysqlUrl: db.url };
    },
    after: async () => {
      await db?.destroy();
    },
  });

  it("keeps every copy: stale heartbeats read when it returns do not count as lost nodes", async () => {
    await db!.stop();
    await sleep(8_000);
    await db!.start();
    await t.cluster.waitHealthy(30_000);
    await expectEveryObjectIntact(t);
  }, 90_000);
});

describe("two of three storage nodes down for longer than MINIS3_REPAIR_AFTER, uploads at W=1 meanwhile", () => {
  const t = useLoadedCluster({ before: async () => ({ env: { MINIS3_WRITE_QUORUM: "1" } }) });

  it("brings every object back to R copies once the nodes return, including those written to one node", async () => {
    await t.cluster.stopNode("storage-2", "SIGKILL");
    await t.cluster.stopNode("storage-3", "SIGKILL");
    await waitFor(
      "uploads accepted on one node",
      async () => ((await upload(t.cluster.httpUrl, "outage/probe", "x")).status === 201 ? true : undefined),
      15_000,
    );
    t.bodies.set("outage/probe", Buffer.from("x"));
    for (let i = 0; i < 4; i++) {
      const body = randomBytes(1500 + i);
      expect((await upload(t.cluster.httpUrl, `outage/alone/${i}`, body)).status).toBe(201);
      t.bodies.set(`outage/alone/${i}`, body);
    }
    await sleep(8_000); // lost 3 s after they are seen down: every repair meanwhile has one target too few
    t.cluster.startNode("storage-2");
    t.cluster.startNode("storage-3");
    await t.cluster.waitHealthy(30_000);
    await expectEveryObjectIntact(t);
  }, 120_000);
});
