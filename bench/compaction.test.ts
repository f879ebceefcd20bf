import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import type { CompactionStats } from "../services/rpc/blob-backend";
import { serveMetrics } from "../services/common/metrics/metrics-server";
import { registerStoreGauges } from "../services/rpc/server/node-metrics";
import { silentLog } from "../services/rpc/testing/test-helpers";
import { compactionBetween, compactionSnapshot, parseCompaction } from "./compaction";

// The bench tells a row that a node's compaction ran in (its CPU per op is then not the row's
// alone): it reads the counters a node serves, through the port in the node's environment.
test("a row's compaction is read from each node's metrics, by the port its environment names; idle nodes are left out", async () => {
  const stats: CompactionStats = {
    passes: 3,
    segmentsByIndex: 2,
    segmentsByScan: 1,
    bytesRead: 3 << 20,
    bytesCopied: 1 << 20,
    bytesFreed: 500 << 20,
  };
  // The node's own metrics code, serving the store's counters as a node does.
  registerStoreGauges({
    stats: async () => ({ blobCount: 0, usedBytes: 0, freeBytes: 0, unreadableRecords: 0 }),
    compactionStats: () => ({ ...stats }),
  });
  const server = await serveMetrics("127.0.0.1", await unusedPort(), silentLog);
  // A process whose environment names that port, as the launcher starts a node; another without one.
  const node = spawn("sleep", ["30"], { env: { ...process.env, MINIS3_METRICS_PORT: String(server!.port) }, stdio: "ignore" });
  const other = spawn("sleep", ["30"], { env: { ...process.env, MINIS3_METRICS_PORT: "0" }, stdio: "ignore" });
  try {
    await Promise.all([once(node, "spawn"), once(other, "spawn")]);
    const procs = [
      { name: "storage-1", pid: node.pid! },
      { name: "launcher", pid: other.pid! },
      // A coordinator (its workers inherit the primary's port) is not scraped, whatever it serves.
      { name: "coordinator/1234", pid: node.pid! },
    ];
    const before = await compactionSnapshot(procs);
    expect([...before.keys()]).toEqual(["storage-1"]);
    expect(compactionBetween(before, await compactionSnapshot(procs))).toEqual({}); // nothing ran between

    Object.assign(stats, { segmentsByIndex: 5, bytesRead: stats.bytesRead + (1 << 20), bytesFreed: stats.bytesFreed + (256 << 20) });
    expect(compactionBetween(before, await compactionSnapshot(procs))).toEqual({
      "storage-1": { segmentsByIndex: 3, segmentsByScan: 0, readMiB: 1, freedMiB: 256 },
    });
  } finally {
    node.kill("SIGKILL");
    other.kill("SIGKILL");
    await server!.close();
  }
});

test("an exposition without the compaction series (a coordinator's) has no counters", () => {
  expect(parseCompaction('minis3_process_cpu_seconds_total{service="coordinator"} 12\n')).toBeUndefined();
});

/** A port nothing listens on now (serveMetrics takes 0 as "off", not "any"). */
async function unusedPort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, "close");
  return port;
}
