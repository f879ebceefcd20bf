import { randomBytes } from "node:crypto";
import { ChaosClient } from "./chaos-client";
import { readBack, waitFullRepair } from "./final-check";
import { History, type HistoryTotals, type ViolationRecord } from "./history";
import { DEFAULT_WORKLOAD, Workload, type WorkloadOptions, type WorkloadResult } from "./workload";

// One chaos run: the checked workload through every front door while something injects faults, then
// the faults stop, every key is read back and every object is watched until it has its R copies.
// Shared by `npm run chaos` (faults: the user's command) and the chaos suite (faults: its own kills).

/** Whatever breaks the cluster while the workload runs. */
export interface FaultInjector {
  start(): void;
  /** Stops injecting and brings back whatever is down; resolves once the cluster is whole again. */
  stop(): Promise<void>;
  /** What was done, one line per fault. */
  readonly log: readonly string[];
}

export interface ChaosOptions {
  /** Front doors (coordinator HTTP URLs), used in turn. */
  targets: string[];
  durationMs: number;
  concurrency: number;
  /** Copies every hot object must list at the end (the cluster's MINIS3_REPLICAS). */
  replicas: number;
  /** How long to wait for every object to be back at R after the faults stopped. */
  repairTimeoutMs: number;
  /** Per request: an answer slower than this counts as failed (outcome unknown). */
  requestTimeoutMs?: number;
  workload?: Partial<Omit<WorkloadOptions, "prefix" | "durationMs" | "concurrency">>;
  faults?: FaultInjector;
  log?: (m: string) => void;
  stopped?: () => boolean;
}

export interface ChaosReport {
  prefix: string;
  targets: string[];
  workload: WorkloadResult;
  clientErrorPct: number;
  history: HistoryTotals;
  lost: number;
  wrong: number;
  resurrected: number;
  stale: number;
  /** Keys that answered neither bytes nor 404 in the final read. */
  unreadable: string[];
  /** From the end of the faults until every object listed R copies; null: not within the timeout. */
  fullRepairMs: number | null;
  shortOfReplicas: { key: string; tier: string; liveCopies: number }[];
  violations: ViolationRecord[];
  faults: readonly string[];
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => undefined);
  const prefix = `chaos/${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  const client = new ChaosClient(opts.targets, opts.concurrency, requestTimeoutMs);
  const history = new History();
  try {
    const workload = new Workload(client, history, {
      ...DEFAULT_WORKLOAD,
      ...opts.workload,
      prefix,
      durationMs: opts.durationMs,
      concurrency: opts.concurrency,
      stopped: opts.stopped,
    });
    log(
      `workload: ${opts.concurrency} in flight for ${opts.durationMs / 1000} s through ${opts.targets.join(", ")} (keys under ${prefix}/)`,
    );
    opts.faults?.start();
    let result: WorkloadResult;
    try {
      result = await workload.run();
    } finally {
      await opts.faults?.stop();
    }
    const faultsEnded = Date.now();
    log(`workload done: ${result.operations} operations, ${result.clientErrors} failed; reading every key back`);

    const reads = await readBack(client, history, opts.concurrency, opts.repairTimeoutMs);
    log(
      `read back ${history.allKeys().length} keys: ${reads.present.length} present, ${reads.unreadable.length} unreadable; waiting for R copies`,
    );
    const repair = await waitFullRepair(client, reads.present, opts.replicas, faultsEnded, opts.repairTimeoutMs, opts.concurrency);
    return {
      prefix,
      targets: opts.targets,
      workload: result,
      clientErrorPct: result.operations ? (100 * result.clientErrors) / result.operations : 0,
      history: history.summary(),
      lost: history.count("lost"),
      wrong: history.count("wrong"),
      resurrected: history.count("resurrected"),
      stale: history.count("stale"),
      unreadable: reads.unreadable,
      fullRepairMs: repair.fullRepairMs,
      shortOfReplicas: repair.short,
      violations: history.violations,
      faults: opts.faults?.log ?? [],
    };
  } finally {
    await client.close();
  }
}

/** Why the run failed; empty when it passed. */
export function failures(r: ChaosReport): string[] {
  const out: string[] = [];
  for (const kind of ["lost", "wrong", "resurrected", "stale"] as const) if (r[kind]) out.push(`${r[kind]} ${kind}`);
  if (r.unreadable.length) out.push(`${r.unreadable.length} keys unreadable after the faults stopped`);
  if (r.fullRepairMs === null) out.push(`${r.shortOfReplicas.length} objects not back at R copies in time`);
  return out;
}

const pct = (n: number, of: number) => (of ? (100 * n) / of : 0).toFixed(2);

export function formatReport(r: ChaosReport): string {
  const w = r.workload;
  const kinds = (["upload", "retrieve", "delete"] as const).map((k) => {
    const c = w.ops[k];
    const errs = Object.entries(c.errors)
      .map(([why, n]) => `${why} ×${n}`)
      .join(", ");
    const retried = c.retried ? `, ${c.retried} retried after a reset` : "";
    return `  ${k.padEnd(8)} ${String(c.attempts).padStart(7)} ops, ${String(c.attempts - c.ok).padStart(5)} failed${errs ? ` (${errs})` : ""}${retried}`;
  });
  const h = r.history;
  const lines = [
    `chaos run ${r.prefix} against ${r.targets.join(", ")}`,
    `operations         ${w.operations} in ${(w.elapsedMs / 1000).toFixed(1)} s (${((w.operations * 1000) / Math.max(1, w.elapsedMs)).toFixed(0)}/s)`,
    ...kinds,
    `client errors      ${w.clientErrors} (${r.clientErrorPct.toFixed(2)} %)${w.firstTryErrors !== w.clientErrors ? `; without retries ${w.firstTryErrors} (${pct(w.firstTryErrors, w.operations)} %)` : ""}`,
    `acknowledged       ${h.acknowledgedWrites} writes, ${h.acknowledgedDeletes} deletes; unknown outcome: ${h.maybeWrites} writes, ${h.maybeDeletes} deletes (${h.uncertainKeys} of ${h.keys} keys); refused before reaching a coordinator: ${h.notApplied}`,
    `faults             ${r.faults.length}`,
    `lost               ${r.lost}`,
    `wrong              ${r.wrong}`,
    `resurrected        ${r.resurrected}`,
    `stale              ${r.stale}`,
    `unreadable         ${r.unreadable.length}`,
    `time to full repair ${r.fullRepairMs === null ? `not within the timeout (${r.shortOfReplicas.length} objects short)` : `${(r.fullRepairMs / 1000).toFixed(1)} s`}`,
  ];
  for (const v of r.violations.slice(0, 20)) lines.push(`  ${v.kind}: ${v.key} read ${v.observed}, allowed ${v.allowed.join(" | ")}`);
  for (const s of r.shortOfReplicas.slice(0, 10)) lines.push(`  short: ${s.key} (${s.tier}) ${s.liveCopies} live copies`);
  const failed = failures(r);
  lines.push(failed.length ? `FAILED: ${failed.join(", ")}` : "PASSED: nothing lost, wrong, resurrected or stale; every object back at R");
  return lines.join("\n");
}
