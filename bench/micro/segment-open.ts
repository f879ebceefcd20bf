/**
 * Micro-benchmark (not a test): a storage node's start-up scan of its small blobs. `count` 4 KiB
 * blobs are put into a SegmentStore, which is closed; then it is opened `passes` times (each open
 * reads and checks every record to rebuild the index) and the wall and CPU time of each printed.
 * The page cache holds the segments (they were just written), as after a process restart.
 *
 *   node dist/bench/micro/segment-open.js [count=65000] [passes=3]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pino from "pino";
import { SegmentStore } from "../../services/blobstore/segment-store";
import { fillSegments } from "./segment-fill";

async function bench(): Promise<void> {
  const [count = 65_000, passes = 3] = process.argv.slice(2, 4).map(Number);
  const log = pino({ level: "silent" });
  const dir = await mkdtemp(join(tmpdir(), "minis3-open-"));
  try {
    const writer = new SegmentStore({ dir, log });
    await writer.open();
    await fillSegments(writer, count);
    await writer.close();
    for (let i = 0; i < passes; i++) {
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      const store = new SegmentStore({ dir, log });
      await store.open();
      const wallMs = performance.now() - t0;
      const used = process.cpuUsage(cpu);
      const found = store.stats().blobCount;
      await store.close();
      console.log(
        `open ${i + 1}: ${found} blobs indexed in ${wallMs.toFixed(0)} ms, CPU ${((used.user + used.system) / 1000).toFixed(0)} ms of which system ${(used.system / 1000).toFixed(0)}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void bench();
