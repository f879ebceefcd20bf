import { randomBytes } from "node:crypto";
import { startCluster } from "../../deploy/launcher/cluster";
import { statOf, waitNodeLive } from "../support/api";
import { sha256 } from "../support/bodies";
import { retrieve, upload } from "../support/http";
import { waitFor } from "../support/wait";

// Issue 13: the cold tier has one home, the backup node. Killed (SIGKILL) and restarted by its
// supervisor, it must cost the cold reads made meanwhile nothing but time: a read whose only copy
// is on a node that is away waits for it to return (NodePool.asNodesReturn, up to 5 s; a backup
// node listens again ~2-4 s after a kill), instead of answering 503. The chaos workload never reads
// the cold tier, so this is the test of it.

test("cold reads made while the backup node is killed and restarting all answer 200 with the right bytes", async () => {
  const cluster = await startCluster({ env: { MINIS3_HOT_TTL: "2s" } });
  try {
    const base = cluster.httpUrl;
    // small bodies (one message) and streamed ones (over one chunk)
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 12; i++) bodies.set(`cold/small-${i}`, randomBytes(4096 + i));
    for (let i = 0; i < 2; i++) bodies.set(`cold/big-${i}`, randomBytes(1024 * 1024 + 17 * i));
    for (const [key, body] of bodies) expect((await upload(base, key, body)).status).toBe(201);
    for (const key of bodies.keys()) {
      await waitFor(`${key} to be cold`, async () => (await statOf(base, key))?.tier === "cold", 30_000);
    }

    await cluster.stopNode("backup-1", "SIGKILL");
    cluster.startNode("backup-1");
    const reads = await Promise.all(
      [...bodies].map(async ([key, body]) => {
        const res = await retrieve(base, key);
        const ok = res.status === 200 && sha256(res.body) === sha256(body);
        return { key, status: res.status, tier: res.headers.get("x-minis3-tier"), ok, error: ok ? "" : res.body.toString().slice(0, 200) };
      }),
    );
    expect(reads.filter((r) => !r.ok)).toEqual([]);
    // every one was served from the cold tier, so each waited for the restarted node
    expect(reads.map((r) => r.tier)).toEqual(reads.map(() => "cold"));
    await waitNodeLive(cluster, "backup-1");
  } finally {
    await cluster.stop();
  }
}, 120_000);
