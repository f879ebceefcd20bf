import type { CompactionInRow } from "./compaction";
import type { BenchResults, CompareResults, LargePhaseResult, LargeRatios, MixedPhaseResult, MixedRatios } from "./result-types";
import type { LifecycleKindFigures } from "./lifecycle";
import type { TransitionFigures } from "./transitions";

// The human summary of a run (the JSON file has everything).

const pad = (s: string | number, n: number) => String(s).padStart(n);
const ms = (x: number | null) => (x === null ? "-" : x.toFixed(2));

const passes = (seconds: number[]) => (seconds.length > 1 ? `; passes: ${seconds.join(" s, ")} s` : "");

function large(name: string, r: LargePhaseResult): string[] {
  const w = r.warmup;
  const lines = [
    `${name}: ${(r.bytes / 2 ** 20).toFixed(1)} MiB${r.inFlight > 1 ? ` × ${r.inFlight} at once (MB/s of all together)` : ""}${r.passes > 1 ? `, median of ${r.passes} passes` : ""}; server CPU ${r.serverCpuMsPerMiB ?? "-"} ms per MiB moved`,
    `  upload   ${r.upload.ok ? `${r.upload.mbPerSec} MB/s (${r.upload.seconds} s)${passes(r.uploadSeconds)}` : `FAILED: ${r.upload.reason}`}`,
    `  retrieve ${r.retrieve.ok ? `${r.retrieve.mbPerSec} MB/s (${r.retrieve.seconds} s), sha256 verified${passes(r.retrieveSeconds)}` : `FAILED: ${r.retrieve.reason}`}`,
    // A failed warm-up is a failure users would have seen: shown as loudly as a measured one.
    ...(!w
      ? []
      : w.ok
        ? [`  warm-up (not measured): up ${w.uploadSeconds.join(" s, ")} s; down ${w.retrieveSeconds.join(" s, ")} s`]
        : [`  warm-up FAILED: ${w.reason}`]),
    `  max RSS (MiB; before → max):`,
  ];
  for (const [proc, mib] of Object.entries(r.maxRssMiB))
    lines.push(`    ${proc.padEnd(14)} ${pad(r.rssBeforeMiB[proc] ?? "-", 8)} → ${pad(mib, 8)}`);
  lines.push(...compactionLine(r.compaction));
  return lines;
}

/** The nodes whose compaction ran in a row: their CPU per op is not the row's alone. */
function compactionLine(c: Record<string, CompactionInRow> | undefined): string[] {
  if (!c) return [];
  const nodes = Object.entries(c).map(
    ([node, n]) =>
      `${node} ${n.segmentsByIndex + n.segmentsByScan} segment(s) (${n.segmentsByIndex} by the index, ${n.segmentsByScan} scanned), read ${n.readMiB} MiB, freed ${n.freedMiB} MiB`,
  );
  return [`  compaction in the row: ${nodes.join("; ")}`];
}

function mixed(name: string, m: MixedPhaseResult, r: BenchResults): string[] {
  const lines: string[] = [];
  const keys =
    m.keys === "fixed"
      ? `${m.keySetSize} keys (${m.preloaded} live at the start), ${m.overwrites} uploads overwrote`
      : `fresh keys (${m.preloaded} preloaded)`;
  lines.push(`${name}: ${(m.elapsedMs / 1000).toFixed(1)} s, ${r.settings.concurrency} in flight, ${r.settings.size} B objects, ${keys}`);
  lines.push(`  ${"op".padEnd(9)}${pad("ops/s", 10)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("ok %", 9)}  errors`);
  for (const [op, s] of Object.entries(m.operations)) {
    lines.push(
      `  ${op.padEnd(9)}${pad(s.opsPerSec, 10)}${pad(ms(s.p50Ms), 9)}${pad(ms(s.p99Ms), 9)}${pad((s.successRate * 100).toFixed(2), 9)}  ${JSON.stringify(s.errors)}`,
    );
  }
  lines.push(
    `  ${"total".padEnd(9)}${pad(m.total.opsPerSec, 10)}${pad(ms(m.total.p50Ms), 9)}${pad(ms(m.total.p99Ms), 9)}${pad((m.total.successRate * 100).toFixed(2), 9)}  verify failures: ${m.verifyFailures}`,
  );
  const byProcess = Object.entries(m.cpuMicrosPerOpByProcess)
    .filter(([k]) => k !== "bench")
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  lines.push(
    `  server CPU µs per op: ${m.serverCpuMicrosPerOp ?? "-"} (${byProcess}); the bench's own: ${m.cpuMicrosPerOpByProcess.bench ?? "-"}`,
  );
  lines.push(...compactionLine(m.compaction));
  if (m.drainMs >= 100)
    lines.push(`  (the CPU includes ${(m.drainMs / 1000).toFixed(1)} s after the load until the lifecycle queues were empty)`);
  return lines;
}

const x = (v: number | null) => (v === null ? "-" : `${v}×`);

function compare(r: BenchResults, c: CompareResults): string[] {
  const lines = [`compare: MiniS3 / ${c.peer} (${c.url}), same sitting, same client, keys, payloads and concurrency`];
  if (c.mixed) lines.push(...mixed(`${c.peer} mixed`, c.mixed, r));
  if (c.overwrite) lines.push(...mixed(`${c.peer} overwrite`, c.overwrite, r));
  if (c.large) lines.push(...large(`${c.peer} large`, c.large));
  if (c.largeParallel) lines.push(...large(`${c.peer} large-parallel`, c.largeParallel));
  if (c.largeMultipart) lines.push(...large(`${c.peer} large-multipart`, c.largeMultipart));
  if (c.largeOverwrite) lines.push(...large(`${c.peer} large-overwrite`, c.largeOverwrite));
  if (c.largeBurst) lines.push(...large(`${c.peer} large-burst`, c.largeBurst));
  lines.push(
    `  ${"row".padEnd(19)}${pad("ops/s", 9)}${pad("p99", 9)}${pad("CPU/op", 9)}${pad("up MB/s", 9)}${pad("down", 9)}${pad("CPU/MiB", 9)}`,
  );
  for (const [phase, ratio] of Object.entries(c.ratios)) {
    if ("opsPerSec" in ratio) {
      const m = ratio as MixedRatios;
      lines.push(`  ${phase.padEnd(19)}${pad(x(m.opsPerSec), 9)}${pad(x(m.p99Ms), 9)}${pad(x(m.serverCpuMicrosPerOp), 9)}`);
    } else {
      const l = ratio as LargeRatios;
      lines.push(
        `  ${phase.padEnd(19)}${pad("", 27)}${pad(x(l.uploadMBps), 9)}${pad(x(l.retrieveMBps), 9)}${pad(x(l.serverCpuMsPerMiB), 9)}`,
      );
    }
  }
  return lines;
}

export function report(r: BenchResults): string {
  const out: string[] = [
    r.target.url
      ? `MiniS3 bench against ${r.target.url}${r.target.ownCluster ? " (private cluster)" : ""}`
      : "MiniS3 bench (each phase on a cluster of its own)",
  ];
  if (r.mixed) out.push(...mixed("mixed", r.mixed, r));
  if (r.mixedS3) out.push(...mixed("mixed-s3", r.mixedS3, r));
  if (r.overwrite) out.push(...mixed("overwrite", r.overwrite, r));
  if (r.overwriteS3) out.push(...mixed("overwrite-s3", r.overwriteS3, r));
  if (r.large) out.push(...large("large", r.large));
  if (r.largeParallel) out.push(...large("large-parallel", r.largeParallel));
  if (r.largeS3) out.push(...large("large-s3", r.largeS3));
  if (r.largeS3Parallel) out.push(...large("large-s3-parallel", r.largeS3Parallel));
  if (r.largeS3Sdk) out.push(...large("large-s3-sdk", r.largeS3Sdk));
  if (r.largeS3Multipart) out.push(...large("large-s3-multipart", r.largeS3Multipart));
  if (r.largeOverwrite) out.push(...large("large-overwrite", r.largeOverwrite));
  if (r.huge) out.push(...large("huge", r.huge));
  if (r.largeBurst) out.push(...large("large-burst", r.largeBurst));
  if (r.compare) out.push(...compare(r, r.compare));
  if (r.tiers) {
    const t = r.tiers;
    out.push(`tiers: ${t.objects} objects of ${t.objectBytes} B, hot TTL ${t.hotTtlMs} ms`);
    out.push(
      `  demotion   ${t.demotion.objectsPerSec} objects/s, ${t.demotion.mbPerSec} MB/s (${t.demotion.seconds} s from first due to all cold)`,
    );
    out.push(
      `  cold read  p50 ${ms(t.coldRetrieve.p50Ms)} ms, p99 ${ms(t.coldRetrieve.p99Ms)} ms, ${(t.coldRetrieve.successRate * 100).toFixed(2)}% ok, ${t.coldRetrieve.servedCold} served cold`,
    );
    out.push(
      `  promotion  ${t.promotion.objectsPerSec} objects/s, ${t.promotion.mbPerSec} MB/s (${t.promotion.seconds} s from first cold read to all hot)`,
    );
    out.push(`  hot read   p50 ${ms(t.hotRetrieve.p50Ms)} ms, p99 ${ms(t.hotRetrieve.p99Ms)} ms`);
  }
  if (r.transitions) {
    const t = r.transitions;
    const line = (name: string, f: TransitionFigures) =>
      `  ${name.padEnd(10)} ${pad(f.moved, 7)} moved, ${pad(f.perSec, 8)}/s over ${f.seconds} s; lateness p50 ${f.latenessMs.p50 ?? "-"} ms, p99 ${f.latenessMs.p99 ?? "-"} ms, max ${f.latenessMs.max ?? "-"} ms; ${f.failed} failed attempts`;
    out.push(`transitions: ${t.objects} objects of ${t.objectBytes} B, hot TTL ${t.hotTtlMs} ms, trash TTL ${t.trashTtlMs} ms`);
    out.push(
      `  upload     ${t.upload.perSec}/s (${t.upload.seconds} s, ${t.upload.failed} failed); delete ${t.delete.perSec}/s (${t.delete.seconds} s, ${t.delete.failed} failed)`,
    );
    out.push(line("demote", t.demote), line("trash", t.trash), line("purge", t.purge));
    out.push(`  left after: hot ${t.left.hot}, cold ${t.left.cold}, trash ${t.left.trash}`);
  }
  if (r.lifecycle) {
    const l = r.lifecycle;
    const cpu = (c: Record<string, number>) =>
      Object.entries(c)
        .filter(([, sec]) => sec >= 0.05)
        .sort(([, a], [, b]) => b - a)
        .map(([name, sec]) => `${name} ${sec}`)
        .join(", ");
    const notMoved = (m: Record<string, number>) =>
      Object.keys(m).length
        ? "; not moved: " +
          Object.entries(m)
            .map(([why, count]) => `${count} ${why}`)
            .join(", ")
        : "";
    const line = (name: string, f: LifecycleKindFigures) =>
      `  ${name.padEnd(10)} ${pad(f.moved, 7)} of ${f.due} moved, ${pad(f.perSec, 8)}/s over ${f.seconds} s; lateness p50 ${f.latenessMs.p50 ?? "-"} ms, p99 ${f.latenessMs.p99 ?? "-"} ms, max ${f.latenessMs.max ?? "-"} ms; ${f.failed} failed attempts${notMoved(f.notMoved)}\n             CPU s: ${cpu(f.cpu)}`;
    out.push(
      `lifecycle: ${l.objects} seeded objects of ${l.objectBytes} B due over ${l.windowMs / 1000} s (${l.duePerSec ?? "all at once"}/s), hot TTL ${l.hotTtlMs} ms, trash TTL ${l.trashTtlMs} ms`,
    );
    out.push(
      `  seeded     ${l.seed.perSec}/s (${l.seed.seconds} s); like an upload: ${l.seededVsUpload.length ? "NO: " + l.seededVsUpload.join("; ") : "yes"}`,
    );
    out.push(`  idle       ${l.idle.seconds} s with nothing due: CPU s: ${cpu(l.idle.cpu)}`);
    out.push(line("demote", l.demote), line("trash", l.trash), line("purge", l.purge));
    out.push(`  left after: hot ${l.left.hot}, cold ${l.left.cold}, trash ${l.left.trash}`);
  }
  for (const e of r.errors) out.push(`ERROR: ${e.split("\n")[0]}`);
  return out.join("\n") + "\n";
}
