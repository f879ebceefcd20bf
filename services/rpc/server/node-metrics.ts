// A node's own gauges, read from its backend at scrape time: what its store holds and the disk it
// has left (the coordinator's minis3_node_* gauges show the same as heartbeats last reported it).
import { Counter, Gauge } from "prom-client";
import { registry } from "../../common/metrics/registry";
import type { BlobBackend, CompactionStats } from "../blob-backend";

export function registerStoreGauges(backend: Pick<BlobBackend, "stats" | "smallBlobIndex" | "compactionStats">): void {
  const used = new Gauge({ name: "minis3_store_used_bytes", help: "Bytes of blobs this node holds", registers: [registry] });
  const free = new Gauge({
    name: "minis3_store_free_bytes",
    help: "Free bytes on this node's disk (0 for the backup node: MariaDB's)",
    registers: [registry],
  });
  const unreadable = new Gauge({
    name: "minis3_store_unreadable_records",
    help: "Damaged segment records the store stepped over",
    registers: [registry],
  });
  const index = backend.smallBlobIndex?.bind(backend);
  if (index) {
    new Gauge({
      name: "minis3_store_small_blobs",
      help: "Small blobs in this node's in-memory index",
      registers: [registry],
      collect() {
        this.set(index().blobs);
      },
    });
    new Gauge({
      name: "minis3_store_small_blobs_max",
      help: "Small blobs this node's in-memory index takes before small puts are refused (MINIS3_NODE_MAX_SMALL_BLOBS)",
      registers: [registry],
      collect() {
        this.set(index().maxBlobs);
      },
    });
  }
  const compaction = backend.compactionStats?.bind(backend);
  if (compaction) registerCompactionCounters(compaction);
  new Gauge({
    name: "minis3_store_blobs",
    help: "Blobs this node holds",
    registers: [registry],
    async collect() {
      try {
        const s = await backend.stats();
        this.set(s.blobCount);
        used.set(s.usedBytes);
        if (s.freeBytes !== null) free.set(s.freeBytes);
        unreadable.set(s.unreadableRecords ?? 0);
      } catch {
        // the last values stay: a scrape must not fail with the disk
      }
    },
  });
}

/**
 * Compaction's counters, read from the store at scrape time: how often it ran, by which path it freed
 * segments, and the bytes it read, copied and freed (the bench reads them per row, bench/procs.ts).
 */
function registerCompactionCounters(stats: () => CompactionStats): void {
  const counter = (name: string, help: string, value: (s: CompactionStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value(stats()));
      },
    });
  counter("minis3_store_compaction_passes_total", "Compaction passes finished (most free nothing)", (s) => s.passes);
  new Counter({
    name: "minis3_store_compacted_segments_total",
    help: "Segments compaction freed, by how it read them: index (only the live puts) or scan (the whole file)",
    labelNames: ["path"],
    registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      this.inc({ path: "index" }, s.segmentsByIndex);
      this.inc({ path: "scan" }, s.segmentsByScan);
    },
  });
  counter("minis3_store_compaction_read_bytes_total", "Bytes compaction read from the segments it freed", (s) => s.bytesRead);
  counter("minis3_store_compaction_copied_bytes_total", "Live records' bytes compaction wrote again", (s) => s.bytesCopied);
  counter("minis3_store_compaction_freed_bytes_total", "Segment bytes compaction removed, less what it copied out", (s) => s.bytesFreed);
}
