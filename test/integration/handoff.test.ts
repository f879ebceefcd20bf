import { randomBytes } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { HashRing } from "../../services/coordinator/placement/hash-ring";
import { placementKey } from "../../services/coordinator/placement/placement";
import { statOf, waitNodeDown, waitNodeLive } from "../support/api";
import { sha256 } from "../support/bodies";
import { ClusterInspector } from "../support/cluster-inspector";
import { getJson, retrieve, upload } from "../support/http";
import { waitFor } from "../support/wait";

// Hinted handoff (issue 13 item 3): with R − W = 1 storage node down, uploads go on to the next
// live nodes of the key's preference list; once the node is back, rehome copies each hint to its
// home, verifies it, commits the new list, and only then deletes the stray copy.

interface RehomeStatus {
  rehome: { awayFromHome: number | null; underReplicated: number | null; passes: number; lastPass: { endedAtMs: number } | null };
  repair: { versionsLeft: number; underReplicated: number };
}

const R = 2;

describe("hinted handoff", () => {
  let cluster: TestCluster;
  let nodes: ClusterInspector;

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      // W = 1: one node down still takes writes. Repair must not be what brings the copies back.
      env: { MINIS3_REPLICAS: String(R), MINIS3_WRITE_QUORUM: "1", MINIS3_REPAIR_AFTER: "10m", MINIS3_SCRUB_RATE: "0" },
    });
    nodes = new ClusterInspector(cluster);
  }, 90_000);

  afterAll(async () => {
    await nodes?.close();
    await cluster?.stop();
  });

  it("writes on past a stopped node and moves every hint home when it returns, byte-exact, with no stray copy left", async () => {
    const status = () => getJson<RehomeStatus>(`${cluster.httpUrl}/status`);
    await cluster.stopNode("storage-2", "SIGKILL");
    await waitNodeDown(cluster, "storage-2");

    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 16; i++) bodies.set(`handoff/small-${i}`, randomBytes(1000 + i * 37));
    for (let i = 0; i < 2; i++) bodies.set(`handoff/large-${i}`, randomBytes(2 * 1024 * 1024));
    for (const [key, body] of bodies) expect((await upload(cluster.httpUrl, key, body)).status).toBe(201);

    // Every copy landed on a live node; those whose key belongs on storage-2 are hints.
    const ring = new HashRing(["storage-1", "storage-2", "storage-3"]);
    const home = (key: string) => ring.preferenceList(placementKey("default", key)).slice(0, R);
    const hinted: string[] = [];
    for (const key of bodies.keys()) {
      const s = (await statOf(cluster.httpUrl, key))!;
      expect(s.replicas).toHaveLength(R);
      expect(s.replicas).not.toContain("storage-2");
      if (home(key).includes("storage-2")) hinted.push(key);
    }
    expect(hinted.length).toBeGreaterThan(0);
    await waitFor(
      "/status counting the hints as away from home",
      async () => ((await status()).rehome.awayFromHome === hinted.length ? true : undefined),
      30_000,
      250,
    );

    cluster.startNode("storage-2");
    await waitNodeLive(cluster, "storage-2");
    const back = Date.now();
    await waitFor(
      "/status: nothing away from home or under R, from a pass after the node came back",
      async () => {
        const s = await status();
        const r = s.rehome;
        return r.lastPass && r.lastPass.endedAtMs > back && r.awayFromHome === 0 && r.underReplicated === 0 && s.repair.versionsLeft === 0
          ? true
          : undefined;
      },
      60_000,
      250,
    );

    for (const [key, body] of bodies) {
      const s = (await statOf(cluster.httpUrl, key))!;
      // The ring the test builds itself agrees with the coordinator's: placement is a function of ids.
      expect([...s.replicas].sort()).toEqual([...home(key)].sort());
      for (const id of s.replicas) expect((await nodes.hashOn(id, s.versionId)).sha256).toBe(sha256(body));
      const v = (await nodes.version(s.versionId))!;
      expect(v.cleanup).toEqual([]);
      // No stray: the node that held the hint no longer has it.
      for (const id of ["storage-1", "storage-2", "storage-3"].filter((n) => !s.replicas.includes(n)))
        expect(await nodes.blobOn(id, s.versionId)).toBeNull();
      expect(sha256((await retrieve(cluster.httpUrl, key)).body)).toBe(sha256(body));
    }
  }, 180_000);
});
