import { randomBytes, createHash } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { statOf, type StatJson } from "../support/api";
import { ClusterInspector } from "../support/cluster-inspector";
import { getJson, postJson, remove, retrieve, upload } from "../support/http";
import { waitFor } from "../support/wait";

// A storage node that stays down past MINIS3_REPAIR_AFTER is taken as lost: every object that had
// a copy on it gets a new copy on another node, so there are two again; when the node comes back,
// it is home again for its keys (rehome), and no node keeps a copy the catalogue does not list.

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("repair after a storage node is lost", () => {
  let cluster: TestCluster;
  let nodes: ClusterInspector;
  const bodies = new Map<string, Buffer>();

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      env: { MINIS3_REPAIR_AFTER: "3s", MINIS3_RECONCILE_INTERVAL: "500ms", MINIS3_TRASH_TTL: "10m" },
    });
    nodes = new ClusterInspector(cluster);
  }, 90_000);

  afterAll(async () => {
    await nodes?.close();
    await cluster?.stop();
  });

  it("brings every object back to two copies on live nodes, and cleans the old node when it returns", async () => {
    for (let i = 0; i < 12; i++) {
      const body = randomBytes(i === 0 ? 2 * 1024 * 1024 : 2000 + i); // one large object, the rest small
      bodies.set(`repair/${i}`, body);
      expect((await upload(cluster.httpUrl, `repair/${i}`, body)).status).toBe(201);
    }
    const before = new Map<string, { versionId: string; replicas: string[] }>();
    for (const key of bodies.keys()) before.set(key, (await statOf(cluster.httpUrl, key))!);
    const onLost = [...before].filter(([, s]) => s.replicas.includes("storage-2"));
    expect(onLost.length).toBeGreaterThan(0);

    await cluster.stopNode("storage-2", "SIGKILL");

    await waitFor(
      "every object on two live nodes",
      async () => {
        for (const key of bodies.keys()) {
          const s = await statOf(cluster.httpUrl, key);
          if (!s || s.replicas.length !== 2 || s.replicas.includes("storage-2")) return undefined;
        }
        return true;
      },
      45_000,
      500,
    );

    // The new copies are real: each listed replica holds the right bytes.
    for (const [key, body] of bodies) {
      const s = (await statOf(cluster.httpUrl, key))!;
      for (const id of s.replicas) expect((await nodes.hashOn(id, s.versionId)).sha256).toBe(sha(body));
      const got = await retrieve(cluster.httpUrl, key);
      expect(sha(got.body)).toBe(sha(body));
    }

    // Back, storage-2 is home again for its keys: rehome brings their copies back to it and
    // removes the repair's copies elsewhere. Either way no node keeps a copy the catalogue does
    // not list (its stale copies went, or were replaced by verified ones).
    cluster.startNode("storage-2");
    await waitFor(
      "every copy exactly where the catalogue lists one, storage-2 included",
      async () => {
        for (const [key, { versionId }] of before) {
          const v = (await nodes.version(versionId))!;
          if (onLost.some(([k]) => k === key) && !v.replicas.includes("storage-2")) return undefined;
          const holders = await nodes.holders(versionId).catch(() => undefined);
          if (v.cleanup.length || v.replicas.length !== 2 || holders?.sort().join() !== [...v.replicas].sort().join()) return undefined;
        }
        return true;
      },
      60_000,
      500,
    );
    for (const [key, body] of bodies) expect(sha((await retrieve(cluster.httpUrl, key)).body)).toBe(sha(body));
  });
});

// A repair leaves the lost node's copies pending in `cleanup`; a later transition used to overwrite
// that list, so when the node came back nobody deleted them (review finding 7).
describe("a node that returns after repair and a later demotion", () => {
  let cluster: TestCluster;
  let nodes: ClusterInspector;

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      env: { MINIS3_REPAIR_AFTER: "3s", MINIS3_RECONCILE_INTERVAL: "500ms", MINIS3_HOT_TTL: "15s", MINIS3_TRASH_TTL: "10m" },
    });
    nodes = new ClusterInspector(cluster);
  }, 90_000);

  afterAll(async () => {
    await nodes?.close();
    await cluster?.stop();
  });

  it("ends up holding none of the versions that were repaired away from it", async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `merged/${i}`);
    for (const key of keys) expect((await upload(cluster.httpUrl, key, randomBytes(3000))).status).toBe(201);
    const onLost: string[] = [];
    for (const key of keys) {
      const s = (await statOf(cluster.httpUrl, key))!;
      if (s.replicas.includes("storage-2")) onLost.push(s.versionId);
    }
    expect(onLost.length).toBeGreaterThan(0);

    await cluster.stopNode("storage-2", "SIGKILL");
    // Repaired first (hot, two copies elsewhere), then demoted; /stat does not count as a read.
    const all = async (what: (s: StatJson) => boolean) => {
      for (const key of keys) if (!what((await statOf(cluster.httpUrl, key))!)) return undefined;
      return true;
    };
    await waitFor(
      "every object repaired off storage-2, still hot",
      () => all((s) => s.tier === "hot" && s.replicas.length === 2 && !s.replicas.includes("storage-2")),
      30_000,
      300,
    );
    await waitFor("every object demoted", () => all((s) => s.tier === "cold"), 45_000, 500);

    cluster.startNode("storage-2");
    await waitFor(
      "storage-2 holds none of the repaired versions",
      async () => {
        for (const id of onLost) if (await nodes.blobOn("storage-2", id).catch(() => "unreachable")) return undefined;
        return true;
      },
      45_000,
      500,
    );
  }, 150_000);
});

// A node gone for good: once retired, its copies count as gone, so the trash drains and no cleanup
// job waits for it forever (review finding 10).
describe("a storage node retired for good", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      env: { MINIS3_REPAIR_AFTER: "3s", MINIS3_RECONCILE_INTERVAL: "500ms", MINIS3_TRASH_TTL: "5s" },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("lets the trash drain to nothing and leaves no cleanup job going round", async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `retired/${i}`);
    for (const key of keys) expect((await upload(cluster.httpUrl, key, randomBytes(2500))).status).toBe(201);
    expect((await postJson(`${cluster.httpUrl}/nodes/retire?id=storage-1`)).status).toBe(400); // live: refused
    await cluster.stopNode("storage-3", "SIGKILL");
    const retired = await waitFor(
      "storage-3 retired",
      async () => {
        const r = await postJson(`${cluster.httpUrl}/nodes/retire?id=storage-3`);
        return r.status === 200 ? r.json : undefined; // refused while it still looks live
      },
      20_000,
      500,
    );
    expect(retired).toMatchObject({ id: "storage-3", state: "removed", live: false });
    for (const key of keys) expect((await remove(cluster.httpUrl, key)).status).toBe(200);

    type Status = {
      tiers: { tier: string; objects: number }[];
      queues: { name: string; waiting: number; delayed: number; active: number; failed: number }[];
    };
    await waitFor(
      "the trash empty and no cleanup job left",
      async () => {
        const s = await getJson<Status>(`${cluster.httpUrl}/status`);
        const trash = s.tiers.find((t) => t.tier === "trash")!.objects;
        const c = s.queues.find((q) => q.name === "cleanup")!;
        return trash === 0 && c.waiting + c.delayed + c.active + c.failed === 0 ? true : undefined;
      },
      45_000,
      500,
    );
  }, 120_000);
});
