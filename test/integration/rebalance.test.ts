import { randomBytes } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { HashRing } from "../../services/coordinator/placement/hash-ring";
import { placementKey } from "../../services/coordinator/placement/placement";
import { statOf, type StatJson } from "../support/api";
import { sha256 } from "../support/bodies";
import { ClusterInspector } from "../support/cluster-inspector";
import { startExtraStorageNode, type ExtraStorageNode } from "../support/extra-storage-node";
import { getJson, retrieve, upload } from "../support/http";
import { startSecondCoordinator, type SecondCoordinator } from "../support/second-coordinator";
import { stopChild } from "../support/stop-child";
import { waitFor } from "../support/wait";

// Rebalance (issue 13 item 5): a storage node added to a running cluster receives the keys the ring
// now gives it, and only those move, throttled by MINIS3_REPAIR_RATE. Two coordinators share the
// moves; both compute the same ring, and so does this test from the node ids alone.

interface Status {
  nodes: { id: string; live: boolean }[];
  rehome: { awayFromHome: number | null; underReplicated: number | null; lastPass: { endedAtMs: number } | null };
}

const R = 2;
const OLD = ["storage-1", "storage-2", "storage-3"];
const RATE = 2 * 1024 * 1024;

describe("a storage node added to a running cluster", () => {
  let cluster: TestCluster;
  let nodes: ClusterInspector;
  let second: SecondCoordinator | undefined;
  let added: ExtraStorageNode | undefined;

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      env: { MINIS3_REPLICAS: String(R), MINIS3_SCRUB_RATE: "0", MINIS3_REPAIR_RATE: String(RATE) },
    });
    nodes = new ClusterInspector(cluster);
  }, 90_000);

  afterAll(async () => {
    await stopChild(second?.process);
    await added?.stop();
    await nodes?.close();
    await cluster?.stop();
  });

  it("receives the keys the ring now gives it, and nothing else moves", async () => {
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 160; i++) bodies.set(`rebalance/small-${i}`, randomBytes(4096 + i));
    for (let i = 0; i < 3; i++) bodies.set(`rebalance/large-${i}`, randomBytes(1024 * 1024 + i));
    for (const [key, body] of bodies) expect((await upload(cluster.httpUrl, key, body)).status).toBe(201);
    const before = new Map<string, StatJson>();
    for (const key of bodies.keys()) before.set(key, (await statOf(cluster.httpUrl, key))!);
    second = await startSecondCoordinator(cluster);

    added = await startExtraStorageNode(cluster, "storage-4");
    nodes.addNode(added.id, added.address);
    const urls = [cluster.httpUrl, second.url];
    const status = (url: string) => getJson<Status>(`${url}/status`);
    await waitFor(
      "both coordinators see storage-4 live",
      async () => {
        for (const url of urls) if (!(await status(url)).nodes.some((n) => n.id === "storage-4" && n.live)) return undefined;
        return true;
      },
      30_000,
      200,
    );
    const started = performance.now();

    const ring = new HashRing([...OLD, "storage-4"]);
    const home = (key: string) => ring.preferenceList(placementKey("default", key)).slice(0, R).sort();
    const after = new Map<string, StatJson>();
    await waitFor(
      "every version on the nodes the 4-node ring names",
      async () => {
        for (const key of bodies.keys()) {
          if (after.has(key)) continue;
          const s = (await statOf(cluster.httpUrl, key))!;
          if ([...s.replicas].sort().join() !== home(key).join()) return undefined;
          after.set(key, s);
        }
        return true;
      },
      120_000,
      250,
    );
    const seconds = (performance.now() - started) / 1000;

    // Only copies whose home changed moved, and each went to storage-4.
    const old = new HashRing(OLD);
    let copies = 0;
    let moved = 0;
    let bytesMoved = 0;
    for (const [key, s] of after) {
      const was = before.get(key)!;
      expect(s.versionId).toBe(was.versionId);
      expect([...was.replicas].sort()).toEqual(old.preferenceList(placementKey("default", key)).slice(0, R).sort());
      const gone = was.replicas.filter((id) => !s.replicas.includes(id));
      const came = s.replicas.filter((id) => !was.replicas.includes(id));
      expect(came.every((id) => id === "storage-4")).toBe(true);
      expect(gone.length).toBe(came.length);
      copies += R;
      moved += came.length;
      bytesMoved += came.length * s.size;
    }
    const fraction = moved / copies;
    process.stderr.write(
      `rebalance 3 → 4 storage nodes: ${moved} of ${copies} copies moved (${(fraction * 100).toFixed(1)} %, ideal 25 %), ` +
        `${(bytesMoved / 1024 / 1024).toFixed(1)} MiB in ${seconds.toFixed(1)} s at MINIS3_REPAIR_RATE=${RATE / 1024 / 1024} MiB/s\n`,
    );
    expect(fraction).toBeGreaterThan(0.12);
    expect(fraction).toBeLessThan(0.4);

    // Every object byte-exact, no copy left where the catalogue does not list one.
    for (const [key, body] of bodies) {
      const s = after.get(key)!;
      expect((await nodes.version(s.versionId))!.cleanup).toEqual([]);
      for (const id of [...OLD, "storage-4"]) {
        if (s.replicas.includes(id)) expect((await nodes.hashOn(id, s.versionId)).sha256).toBe(sha256(body));
        else expect(await nodes.blobOn(id, s.versionId)).toBeNull();
      }
      expect(sha256((await retrieve(second.url, key)).body)).toBe(sha256(body));
    }

    // Both coordinators' rings agree: each one's last pass finds every version at home.
    const done = Date.now();
    await waitFor(
      "both coordinators report nothing away from home",
      async () => {
        for (const url of urls) {
          const r = (await status(url)).rehome;
          if (!r.lastPass || r.lastPass.endedAtMs <= done || r.awayFromHome !== 0 || r.underReplicated !== 0) return undefined;
        }
        return true;
      },
      30_000,
      250,
    );
  }, 240_000);
});
