import { parseExposition, total } from "../services/common/metrics/exposition";
import { envOf, type WatchedProcess } from "./procs";
import { round } from "./stats";

// What the storage nodes' compaction did during a row, from their minis3_store_compaction_* metrics:
// a pass falling into a row raises its nodes' CPU per op (2026-12-07: one node at 106.9 µs an op
// against 71.7-77.8 for the others in the S3 overwrite row, unexplained then), and the row says so.

/** A node's compaction counters at one moment (rpc/blob-backend.ts CompactionStats, as scraped). */
interface Counters {
  segmentsByIndex: number;
  segmentsByScan: number;
  readBytes: number;
  freedBytes: number;
}

/** What one node's compaction did in a row. */
export interface CompactionInRow {
  /** Segments freed reading only their live puts, and reading them whole. */
  segmentsByIndex: number;
  segmentsByScan: number;
  readMiB: number;
  freedMiB: number;
}

/** The metrics port a process was started with (MINIS3_METRICS_PORT in its environment), if any. */
function metricsPortOf(pid: number): number | undefined {
  try {
    const port = Number(envOf(pid, "MINIS3_METRICS_PORT"));
    return port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the compaction series of an exposition text; undefined when it has none (not a segment store). */
export function parseCompaction(text: string): Counters | undefined {
  const samples = parseExposition(text);
  if (!samples.some((s) => s.name.startsWith("minis3_store_compact"))) return undefined;
  return {
    segmentsByIndex: total(samples, "minis3_store_compacted_segments_total", { path: "index" }),
    segmentsByScan: total(samples, "minis3_store_compacted_segments_total", { path: "scan" }),
    readBytes: total(samples, "minis3_store_compaction_read_bytes_total"),
    freedBytes: total(samples, "minis3_store_compaction_freed_bytes_total"),
  };
}

/**
 * Each process's counters now, by name: those serving metrics with the compaction series. Not the
 * coordinators: their workers inherit the primary's port, whose scrape merges every worker's metrics
 * and reads the catalogue's tier totals, work a row's neighbours would pay for and they have no
 * compaction.
 */
export async function compactionSnapshot(procs: WatchedProcess[]): Promise<Map<string, Counters>> {
  const out = new Map<string, Counters>();
  await Promise.all(
    procs.map(async (p) => {
      if (p.name.startsWith("coordinator")) return;
      const port = metricsPortOf(p.pid);
      if (!port) return;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
        const counters = res.ok ? parseCompaction(await res.text()) : undefined;
        if (counters) out.set(p.name, counters);
      } catch {
        // a node that does not answer has no figure for this row
      }
    }),
  );
  return out;
}

/** What each node's compaction did between two snapshots: only the nodes that freed or read anything. */
export function compactionBetween(before: Map<string, Counters>, after: Map<string, Counters>): Record<string, CompactionInRow> {
  const out: Record<string, CompactionInRow> = {};
  const MiB = 1024 * 1024;
  for (const [name, a] of after) {
    const b = before.get(name);
    if (!b) continue;
    const row = {
      segmentsByIndex: a.segmentsByIndex - b.segmentsByIndex,
      segmentsByScan: a.segmentsByScan - b.segmentsByScan,
      readMiB: round((a.readBytes - b.readBytes) / MiB, 1),
      freedMiB: round((a.freedBytes - b.freedBytes) / MiB, 1),
    };
    if (row.segmentsByIndex || row.segmentsByScan || a.readBytes > b.readBytes) out[name] = row;
  }
  return out;
}
