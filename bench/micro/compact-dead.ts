/**
 * Micro-benchmark (not a test): compaction of segments the lifecycle emptied. `count` 4 KiB blobs
 * are put into a SegmentStore and all deleted (as demotions leave a storage node), or all but one in
 * `keepEvery` (as the overwrite rows leave one: 100 keeps 1 %), then one compact() frees their
 * segments; prints its CPU and wall time per pass and the median. Before each pass, the page cache
 * holds the segments (they were just written), as on a node.
 *
 *   node dist/bench/micro/compact-dead.js [count=65000] [passes=3] [keepEvery=0: none]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pino from "pino";
import { SegmentStore } from "../../services/blobstore/segment-store";
import { fillSegments, inBatches } from "./segment-fill";

async function pass(count: number, keepEvery: number): Promise<{ cpuMs: number; sysMs: number; wallMs: number; freedMiB: number }> {
  const dir = await mkdtemp(join(tmpdir(), "minis3-compact-"));
  const store = new SegmentStore({ dir, log: pino({ level: "silent" }) });
  try {
    await store.open();
    const ids = await fillSegments(store, count);
    await inBatches(
      ids.filter((_, i) => !keepEvery || i % keepEvery !== 0),
      (id) => store.delete(id),
    );
    const before = store.stats().usedBytes;
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await store.compact(0.5);
    const wallMs = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    return {
      cpuMs: (used.user + used.system) / 1000,
      sysMs: used.system / 1000,
      wallMs,
      freedMiB: (before - store.stats().usedBytes) / 2 ** 20,
    };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function bench(): Promise<void> {
  const [count = 65_000, passes = 3, keepEvery = 0] = process.argv.slice(2, 5).map(Number);
  const cpu: number[] = [];
  for (let i = 0; i < passes; i++) {
    const p = await pass(count, keepEvery);
    cpu.push(p.cpuMs);
    console.log(
      `pass ${i + 1}: freed ${p.freedMiB.toFixed(0)} MiB in ${p.wallMs.toFixed(0)} ms, CPU ${p.cpuMs.toFixed(0)} ms of which system ${p.sysMs.toFixed(0)} (${(p.cpuMs / p.freedMiB).toFixed(2)} ms/MiB)`,
    );
  }
  console.log(`median CPU ${cpu.sort((a, b) => a - b)[Math.floor(cpu.length / 2)].toFixed(0)} ms`);
}

void bench();
