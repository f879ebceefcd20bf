import { randomBytes } from "node:crypto";
import { startCluster } from "../../deploy/launcher/cluster";
import { ClusterInspector } from "../support/cluster-inspector";
import { statOf, waitNodeLive } from "../support/api";
import { sha256 } from "../support/bodies";
import { postJson, remove, retrieve, upload } from "../support/http";
import { waitFor } from "../support/wait";

// Issue 13's last gap: the trash tier has one home, the delete node. Killed (SIGKILL) and restarted
// by its supervisor, it must cost undeletes and deletes made meanwhile nothing but time. An undelete
// copies the version back from the delete node, so one made while it is away waits for it
// (NodePool.asNodesReturn), as a cold read waits for the backup node; before, each answered 503. A
// delete is a catalogue mark whose trash move retries until the node is back. In the end every
// version is where its last acknowledged request put it, byte-exact.

const q = encodeURIComponent;

test("undeletes and deletes made while the delete node is killed and restarting lose nothing", async () => {
  const cluster = await startCluster({ storageNodes: 3, env: { MINIS3_REPLICAS: "2", MINIS3_RECONCILE_INTERVAL: "500ms" } });
  const nodes = new ClusterInspector(cluster);
  try {
    const base = cluster.httpUrl;
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 8; i++) bodies.set(`trashed/small-${i}`, randomBytes(4096 + i));
    for (let i = 0; i < 2; i++) bodies.set(`trashed/big-${i}`, randomBytes(1024 * 1024 + 17 * i));
    for (let i = 0; i < 6; i++) bodies.set(`live/k-${i}`, randomBytes(5000 + i));
    const versions = new Map<string, string>();
    for (const [key, body] of bodies) {
      const up = await upload(base, key, body);
      expect(up.status).toBe(201);
      versions.set(key, JSON.parse(up.body.toString()).versionId as string);
    }
    const trashed = [...bodies.keys()].filter((k) => k.startsWith("trashed/"));
    const live = [...bodies.keys()].filter((k) => k.startsWith("live/"));
    for (const key of trashed) expect((await remove(base, key)).status).toBe(200);
    for (const key of trashed) {
      const v = versions.get(key)!;
      await waitFor(`${key} in the trash tier`, async () => (await nodes.version(v))?.tier === "trash", 30_000);
    }

    await cluster.stopNode("delete-1", "SIGKILL");
    cluster.startNode("delete-1");
    const [undeletes, deletes] = await Promise.all([
      Promise.all(trashed.map(async (key) => ({ key, ...(await postJson(`${base}/undelete?key=${q(key)}`)) }))),
      Promise.all(live.map(async (key) => ({ key, status: (await remove(base, key)).status }))),
    ]);
    // Each undelete waited for the node's return (NodePool.asNodesReturn, up to 5 s; a delete node
    // listens again ~2 s after a kill) and restored its version: none answered 503.
    expect(undeletes.filter((u) => u.status !== 200)).toEqual([]);
    expect(deletes.filter((d) => d.status !== 200)).toEqual([]);
    await waitNodeLive(cluster, "delete-1");

    for (const key of trashed) {
      const res = await retrieve(base, key);
      expect({ key, status: res.status, same: sha256(res.body) === sha256(bodies.get(key)!) }).toEqual({ key, status: 200, same: true });
      expect((await statOf(base, key))?.replicas).toHaveLength(2);
    }
    // The deletes made while the node was away reach it once it is back, and stay restorable.
    for (const key of live) {
      const v = versions.get(key)!;
      expect((await retrieve(base, key)).status).toBe(404);
      await waitFor(`${key}'s trash move`, async () => (await nodes.version(v))?.tier === "trash", 30_000);
      expect(await nodes.hashOn("delete-1", v)).toEqual({ size: bodies.get(key)!.length, sha256: sha256(bodies.get(key)!) });
    }
    // The restored versions' copies leave the delete node (cleanup retries until it answers).
    for (const key of trashed) {
      const v = versions.get(key)!;
      await waitFor(`${key}'s copy gone from delete-1`, async () => !(await nodes.holders(v)).includes("delete-1"), 30_000);
    }
    const back = live[0];
    expect((await postJson(`${base}/undelete?key=${q(back)}`)).status).toBe(200);
    expect(sha256((await retrieve(base, back)).body)).toBe(sha256(bodies.get(back)!));
  } finally {
    await nodes.close();
    await cluster.stop();
  }
}, 180_000);
