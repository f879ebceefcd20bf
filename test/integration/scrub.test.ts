import { createHash, randomBytes } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { newVersionId } from "../../services/common/ids";
import type { NodeStatusView, ScrubStatusView } from "../../services/coordinator/admin/cluster-admin";
import { NodeClient } from "../../services/rpc/client/node-client";
import { statOf, type StatJson } from "../support/api";
import { ClusterInspector } from "../support/cluster-inspector";
import { corruptLargeReplica, corruptSmallReplica } from "../support/corrupt-replica";
import { stopAndReport, withCoordinatorLogs } from "../support/crash-report";
import { getJson, retrieve, upload } from "../support/http";
import { waitFor } from "../support/wait";

// The scrubber (issue 12 items 2 and 5; review findings 3, 17, 18): bad copies are found without
// anyone reading the objects, repaired, and counted in /status; copies no catalogue row names go
// after the grace, and copies a row names are never touched.

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const scrubOf = async (base: string) => (await getJson<{ scrub: ScrubStatusView }>(`${base}/status`)).scrub;
/** Each node's count of damaged segment records as /status shows it (undefined: not reported). */
const unreadableOf = async (base: string) =>
  new Map((await getJson<{ nodes: NodeStatusView[] }>(`${base}/status`)).nodes.map((n) => [n.id, n.unreadableRecords]));

describe("scrubber", () => {
  let cluster: TestCluster;
  let nodes: ClusterInspector;
  const clients = new Map<string, NodeClient>();
  const client = (id: string) => {
    const spec = cluster.specs.find((s) => s.name === id)!;
    return (
      clients.get(id) ??
      clients.set(id, new NodeClient(id, spec.address, { deadlineMs: 5000, clusterSecret: spec.env.MINIS3_CLUSTER_SECRET })).get(id)!
    );
  };

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      env: {
        MINIS3_REPLICAS: "2",
        MINIS3_SCRUB_RATE: "64MiB",
        MINIS3_ORPHAN_GRACE: "2s",
        MINIS3_REPAIR_AFTER: "2s",
        MINIS3_RECONCILE_INTERVAL: "1s",
      },
    });
    nodes = new ClusterInspector(cluster);
  }, 90_000);

  afterAll(async () => {
    for (const c of clients.values()) c.close();
    await stopAndReport(cluster, nodes);
  });

  /** Every listed copy (asked of its node directly, not through a GET) holds the object's bytes, and there are two. */
  async function healthy(key: string, body: Buffer): Promise<boolean> {
    const s = await statOf(cluster.httpUrl, key);
    if (!s || s.replicas.length !== 2) return false;
    for (const id of s.replicas) if ((await nodes.hashOn(id, s.versionId).catch(() => null))?.sha256 !== sha(body)) return false;
    return true;
  }

  const bodies = new Map<string, Buffer>();
  const stats = new Map<string, StatJson>();

  it("finds a flipped byte in a large and a small copy and a deleted copy, with no read, and repairs them to two good copies", async () => {
    bodies.set("scrub/large", randomBytes(3 * 1024 * 1024 + 17));
    bodies.set("scrub/small", randomBytes(3000));
    bodies.set("scrub/gone", randomBytes(2500));
    for (let i = 0; i < 10; i++) bodies.set(`scrub/other-${i}`, randomBytes(1000 + i));
    for (const [key, body] of bodies) expect((await upload(cluster.httpUrl, key, body)).status).toBe(201);
    for (const key of bodies.keys()) stats.set(key, (await statOf(cluster.httpUrl, key))!);
    const before = (await scrubOf(cluster.httpUrl)).totals;

    const large = stats.get("scrub/large")!;
    const small = stats.get("scrub/small")!;
    const gone = stats.get("scrub/gone")!;
    await corruptLargeReplica(cluster, large.replicas[0], large.versionId, large.size, Math.floor(large.size / 2));
    await corruptSmallReplica(cluster, small.replicas[1], small.versionId);
    expect(await client(gone.replicas[0]).deleteBlob(gone.versionId, undefined, async () => undefined)).toBe(true); // a lost disk's way: asked again if fenced
    // The damage is real, seen from the nodes themselves.
    expect((await nodes.hashOn(large.replicas[0], large.versionId).catch(() => null))?.sha256).not.toBe(sha(bodies.get("scrub/large")!));
    expect(await nodes.blobOn(gone.replicas[0], gone.versionId)).toBeNull();

    const found = await withCoordinatorLogs(
      cluster,
      waitFor(
        "/status counts two corrupt copies and one missing",
        async () => {
          const t = (await scrubOf(cluster.httpUrl)).totals;
          return t.corrupt - before.corrupt >= 2 && t.missing - before.missing >= 1 ? t : undefined;
        },
        45_000,
        500,
      ),
    );
    expect(found.repairsQueued - before.repairsQueued).toBeGreaterThanOrEqual(3);

    for (const key of ["scrub/large", "scrub/small", "scrub/gone"])
      await withCoordinatorLogs(
        cluster,
        waitFor(`${key} at two good copies`, () => healthy(key, bodies.get(key)!), 45_000, 500),
      );
    // Only now read through the API: byte-exact.
    for (const [key, body] of bodies) expect(sha((await retrieve(cluster.httpUrl, key)).body)).toBe(sha(body));

    const s = await scrubOf(cluster.httpUrl);
    expect(s.rateBytesPerSecond).toBe(64 * 1024 * 1024);
    expect(s.owner).not.toBe("");
    expect(s.totals.bytesChecked).toBeGreaterThan(0);
  }, 120_000);

  it("deletes copies no catalogue row names once the grace is over, and never a copy a row names", async () => {
    const data = randomBytes(700);
    const digest = createHash("sha256").update(data).digest();
    // A copy with no row at all (an upload whose coordinator died before its commit).
    const noRow = newVersionId();
    await client("storage-1").putSmall(noRow, {}, data, digest);
    // A copy of a real version on a node its row does not list (a transition's leftover not in cleanup).
    const other = stats.get("scrub/other-0")!;
    const stray = ["storage-1", "storage-2", "storage-3"].find((id) => !other.replicas.includes(id))!;
    const body = bodies.get("scrub/other-0")!;
    await client(stray).putSmall(other.versionId, {}, body, createHash("sha256").update(body).digest());
    const before = (await scrubOf(cluster.httpUrl)).totals.orphansDeleted;

    await withCoordinatorLogs(
      cluster,
      waitFor(
        "both orphans deleted",
        async () => !(await nodes.blobOn("storage-1", noRow)) && !(await nodes.blobOn(stray, other.versionId)),
        30_000,
        500,
      ),
    );
    // The sweep counts what it deleted once it has gone through every node (its checkpoint), a
    // moment after the copies are gone: seen early in a loaded CI run.
    const counted = await waitFor(
      "the orphans counted in /status",
      async () => {
        const n = (await scrubOf(cluster.httpUrl)).totals.orphansDeleted - before;
        return n >= 2 ? n : undefined;
      },
      15_000,
      250,
    );
    expect(counted).toBeGreaterThanOrEqual(2);

    // Every copy the catalogue lists is still where it says, with its bytes.
    for (const [key, b] of bodies) {
      const s = (await statOf(cluster.httpUrl, key))!;
      expect(s.replicas).toHaveLength(2);
      for (const id of s.replicas) expect((await nodes.hashOn(id, s.versionId)).sha256).toBe(sha(b));
    }
  }, 60_000);

  it("shows a damaged record in a node's segments in /status, per node, once the node has scanned it", async () => {
    const body = randomBytes(1500);
    expect((await upload(cluster.httpUrl, "scrub/damaged", body)).status).toBe(201);
    const s = (await statOf(cluster.httpUrl, "scrub/damaged"))!;
    const target = s.replicas[0];
    // A good record after it on that node: a bad record at the very end of a segment is a torn write, cut at open.
    for (let i = 0; ; i++) {
      expect((await upload(cluster.httpUrl, `scrub/after-${i}`, randomBytes(800))).status).toBe(201);
      if ((await statOf(cluster.httpUrl, `scrub/after-${i}`))!.replicas.includes(target)) break;
    }
    const before = await waitFor(
      "every live node reports its count",
      async () => {
        const counts = await unreadableOf(cluster.httpUrl);
        return [...counts.values()].every((n) => typeof n === "number") ? counts : undefined;
      },
      30_000,
      250,
    );
    await corruptSmallReplica(cluster, target, s.versionId);
    await cluster.restart(target); // a segment is scanned whole at open (and by compaction)
    await withCoordinatorLogs(
      cluster,
      waitFor(
        `${target} reports one more damaged record`,
        async () => ((await unreadableOf(cluster.httpUrl)).get(target) ?? -1) >= before.get(target)! + 1,
        30_000,
        500,
      ),
    );
  }, 90_000);
});
