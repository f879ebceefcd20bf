import { performance } from "node:perf_hooks";
import type { BenchArgs } from "./args";
import type { ObjectClient } from "./client";
import { runLarge } from "./large";
import { deleteKeys, runMixed, seedKeySet, type FixedKeySet } from "./mixed";
import { compactionBetween, compactionSnapshot, type CompactionInRow } from "./compaction";
import { cpuBetween, cpuSnapshot, type WatchedProcess } from "./procs";
import type { CpuFigures, LargePhaseResult, MixedPhaseResult } from "./result-types";
import { round } from "./stats";

// One measured phase against one system (MiniS3, or the peer of --compare): the load, the CPU every
// process spent meanwhile, and the server side's share of it per operation or per MiB.

export interface BenchSystem {
  /** Processes whose CPU is the server's: MiniS3's services, MariaDB and Redis; or the peer. */
  server(): WatchedProcess[];
  /** Processes whose RSS the large phases sample (the services, not the shared servers). */
  services(): WatchedProcess[];
  /** Waits until background work the load left (trash moves) is done: counted in the phase's CPU. */
  drain(): Promise<void>;
  /** Delete what a phase leaves (a cluster the bench did not start). */
  cleanUp: boolean;
}

const BENCH = "bench";

/**
 * Runs `run` and measures it: every process's CPU, and what the nodes' compaction did meanwhile
 * (`compaction`: only the nodes that compacted; absent when none did, or the system has no such nodes).
 */
export async function measured<T>(
  server: () => WatchedProcess[],
  run: () => Promise<T>,
): Promise<{ value: T; cpu: CpuFigures; compaction?: Record<string, CompactionInRow> }> {
  const list = [...server(), { name: BENCH, pid: process.pid }];
  const compactedBefore = await compactionSnapshot(list);
  const before = cpuSnapshot(list);
  const value = await run();
  const seconds = cpuBetween(before, cpuSnapshot(list), list);
  const compaction = compactionBetween(compactedBefore, await compactionSnapshot(list));
  const total = Object.values(seconds).reduce((a, b) => a + b, 0);
  return {
    value,
    cpu: { seconds, totalSeconds: round(total), serverSeconds: round(total - (seconds[BENCH] ?? 0)) },
    ...(Object.keys(compaction).length ? { compaction } : {}),
  };
}

export interface MixedPhaseOptions {
  /** For the log: "overwrite-s3", "s3rver overwrite"… */
  name: string;
  /** Fresh keys (--mix) or a fixed key set seeded first (--overwrite-mix). */
  keys: "fresh" | "overwrite";
  keyPrefix: string;
}

export async function mixedPhase(
  client: ObjectClient,
  system: BenchSystem,
  args: BenchArgs,
  o: MixedPhaseOptions,
  log: (m: string) => void,
): Promise<MixedPhaseResult> {
  const base = { concurrency: args.concurrency, size: args.size, maxOps: args.maxOps, keyPrefix: o.keyPrefix };
  const mix = o.keys === "fresh" ? args.mix : args.overwriteMix;
  let keySet: FixedKeySet | undefined;
  if (o.keys === "overwrite") {
    log(`${o.name}: seeding ${args.keySet} keys of ${args.size} B (not measured)`);
    keySet = await seedKeySet(client, o.keyPrefix, args.keySet, args.size, args.concurrency);
    if (keySet.live.size < args.concurrency)
      throw new Error(
        `${o.name}: only ${keySet.live.size} of ${args.keySet} keys could be seeded (the first failure: ${keySet.firstFailure})`,
      );
  }
  if (args.warmupMs > 0) {
    log(`${o.name}: warm-up, ${args.warmupMs / 1000} s of the same load, not measured`);
    const warm = await runMixed(client, { ...base, mix, durationMs: args.warmupMs, keyPrefix: `${o.keyPrefix}-warmup`, keySet });
    if (!keySet) await deleteKeys(client, warm.liveKeys, args.concurrency, 60_000);
  }
  await system.drain();
  log(
    `${o.name}: ${args.concurrency} in flight, ${args.size} B objects, ${args.durationMs / 1000} s, mix ${mix.upload}:${mix.retrieve}:${mix.delete}` +
      (keySet ? ` over ${keySet.size} keys` : ", fresh keys"),
  );
  const { value, cpu, compaction } = await measured(system.server, async () => {
    const result = await runMixed(client, { ...base, mix, durationMs: args.durationMs, keySet });
    const t0 = performance.now();
    await system.drain();
    return { result, drainMs: round(performance.now() - t0, 1) };
  });
  const { result, drainMs } = value;
  const ops = result.total.attempts;
  const perOp = (seconds: number) => (ops ? round((seconds * 1e6) / ops, 1) : null);
  const out: MixedPhaseResult = {
    ...result,
    cpu,
    cpuMicrosPerOp: perOp(cpu.totalSeconds),
    serverCpuMicrosPerOp: perOp(cpu.serverSeconds),
    cpuMicrosPerOpByProcess: Object.fromEntries(Object.entries(cpu.seconds).map(([name, s]) => [name, perOp(s) ?? 0])),
    drainMs,
    ...(compaction ? { compaction } : {}),
  };
  if (system.cleanUp && result.liveKeys.length) {
    log(`${o.name}: deleting the ${result.liveKeys.length} keys it left`);
    out.leftoverKeysDeleted = await deleteKeys(client, result.liveKeys, args.concurrency, 60_000);
  }
  out.liveKeys = []; // thousands of names are no figure
  return out;
}

/**
 * How many unmeasured passes a large row runs first: a system's first large row `first`, every later
 * one `each`. A fresh cluster's large path runs cold for longer than a row's usual warm-up: 64 MiB
 * uploads on `npm start`'s cluster (2026-12-06, one at a time) took 632, 578, 440, 371, 349, 318, 302
 * ms and then 280-306, its server CPU per upload 980 falling to ~450 ms (the busy worker's page faults
 * 3,874 an upload falling under 350; the rest not traced, most likely code not yet optimised), and the
 * first large row ran so after the small rows too; s3rver's took 439, 249, 229 ms and then ~180-230. With two warm-up passes the first row's median pass was still cold: the facade's row,
 * always the first, uploaded at 0.80-0.92x the S3 row run after it (five runs, 2026-12-05 and -06),
 * though the S3 door costs more per request; a probe of both doors alternated on a warm cluster
 * found them alike.
 */
export class LargeWarmups {
  private readonly warmed = new Set<BenchSystem>();

  constructor(
    private readonly first: number,
    private readonly each: number,
  ) {}

  passesFor(system: BenchSystem): number {
    if (this.warmed.has(system)) return this.each;
    this.warmed.add(system);
    return Math.max(this.first, this.each);
  }
}

export async function largePhase(
  client: ObjectClient,
  system: BenchSystem,
  o: { key: string; bytes: number; passes: number; inFlight: number; warmupPasses: number; overwrite?: boolean },
): Promise<LargePhaseResult> {
  await system.drain();
  const withBench = () => [...system.services(), { name: BENCH, pid: process.pid }];
  const overwrite = o.overwrite ?? false;
  // Unmeasured passes first, as the mixed phases' warm-up: on a fresh cluster the first row of large
  // objects ran ~25 % slower at ~40 % more CPU per MiB whichever door it went through (the S3 row run
  // first was the slow one); a system's first row runs more of them (LargeWarmups).
  // Overwriting, they store the objects the first measured pass replaces.
  let warmup: LargePhaseResult["warmup"];
  const key = overwrite ? o.key : `${o.key}-warmup`;
  if (o.warmupPasses > 0) {
    const w = await runLarge(client, key, o.bytes, withBench, o.warmupPasses, o.inFlight, overwrite);
    const reason = w.upload.reason ?? w.retrieve.reason;
    warmup = {
      ok: w.upload.ok && w.retrieve.ok,
      ...(reason ? { reason } : {}),
      uploadSeconds: w.uploadSeconds,
      retrieveSeconds: w.retrieveSeconds,
    };
    await system.drain(); // its deletes' (or replaced versions') trash moves are not the measured passes' work
  }
  // Overwriting, the versions each pass replaced are moved to the trash behind it: that work is the
  // row's own (a peer overwrites in place), so the drain is measured too, as the mixed phases' is.
  const { value, cpu, compaction } = await measured(system.server, async () => {
    const r = await runLarge(client, o.key, o.bytes, withBench, o.passes, o.inFlight, overwrite);
    if (overwrite) await system.drain();
    return r;
  });
  const { stored, ...result } = value;
  if (overwrite) {
    let deleted = stored.length > 0;
    for (const k of stored) deleted = (await client.delete(k)).ok && deleted;
    result.deleted = deleted;
  }
  const movedMiB = (2 * value.passes * value.inFlight * value.bytes) / 2 ** 20;
  return {
    ...result,
    cpu,
    serverCpuMsPerMiB: movedMiB ? round((cpu.serverSeconds * 1000) / movedMiB, 3) : null,
    ...(compaction ? { compaction } : {}),
    ...(warmup ? { warmup } : {}),
  };
}
