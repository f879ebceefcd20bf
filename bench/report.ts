import type { BenchResults, MixedPhaseResult } from "./result-types";
import type { LargeResult } from "./large";
import type { LifecycleKindFigures } from "./lifecycle";
import type { TransitionFigures } from "./transitions";

// The human summary of a run (the JSON file has everything).

const pad = (s: string | number, n: number) => String(s).padStart(n);
const ms = (x: number | null) => (x === null ? "-" : x.toFixed(2));

const passes = (seconds: number[]) => (seconds.length > 1 ? `; passes: ${seconds.join(" s, ")} s` : "");

function large(name: string, r: LargeResult): string[] {
  const lines = [
    `${name}: ${(r.bytes / 2 ** 20).toFixed(1)} MiB${r.passes > 1 ? `, median of ${r.passes} passes` : ""}`,
    `  upload   ${r.upload.ok ? `${r.upload.mbPerSec} MB/s (${r.upload.seconds} s)${passes(r.uploadSeconds)}` : `FAILED: ${r.upload.reason}`}`,
    `  retrieve ${r.retrieve.ok ? `${r.retrieve.mbPerSec} MB/s (${r.retrieve.seconds} s), sha256 verified${passes(r.retrieveSeconds)}` : `FAILED: ${r.retrieve.reason}`}`,
    `  max RSS (MiB; before → max):`,
  ];
  for (const [proc, mib] of Object.entries(r.maxRssMiB))
    lines.push(`    ${proc.padEnd(14)} ${pad(r.rssBeforeMiB[proc] ?? "-", 8)} → ${pad(mib, 8)}`);
  return lines;
}

function mixed(name: string, m: MixedPhaseResult, r: BenchResults): string[] {
  const lines: string[] = [];
  lines.push(
    `${name}: ${(m.elapsedMs / 1000).toFixed(1)} s, ${r.settings.concurrency} in flight, ${r.settings.size} B objects (${m.preloaded} preloaded)`,
  );
  lines.push(`  ${"op".padEnd(9)}${pad("ops/s", 10)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("ok %", 9)}  errors`);
  for (const [op, s] of Object.entries(m.operations)) {
    lines.push(
      `  ${op.padEnd(9)}${pad(s.opsPerSec, 10)}${pad(ms(s.p50Ms), 9)}${pad(ms(s.p99Ms), 9)}${pad((s.successRate * 100).toFixed(2), 9)}  ${JSON.stringify(s.errors)}`,
    );
  }
  lines.push(
    `  ${"total".padEnd(9)}${pad(m.total.opsPerSec, 10)}${pad("", 18)}${pad((m.total.successRate * 100).toFixed(2), 9)}  verify failures: ${m.verifyFailures}`,
  );
  lines.push(
    `  CPU s: ${Object.entries(m.cpu.seconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}; ${m.cpuMicrosPerOp ?? "-"} µs CPU per op, all processes`,
  );
  return lines;
}

export function report(r: BenchResults): string {
  const out: string[] = [`MiniS3 bench against ${r.target.url}${r.target.ownCluster ? " (private cluster)" : ""}`];
  if (r.mixed) out.push(...mixed("mixed", r.mixed, r));
  if (r.mixedS3) out.push(...mixed("mixed-s3", r.mixedS3, r));
  if (r.large) out.push(...large("large", r.large));
  if (r.huge) out.push(...large("huge", r.huge));
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
