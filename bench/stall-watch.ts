import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { request } from "undici";
import { createPool, type Pool, type RowDataPacket } from "mysql2/promise";
import { parseMysqlUrl } from "../services/common/db/pool";
import { Timeline, type TimelineSecond } from "../services/common/metrics/timeline";
import { authorizationFor } from "../deploy/launcher/client-credentials";
import { cpuSnapshot, type WatchedProcess } from "./procs";

// What ran in the seconds before the lifecycle's latest moves (issue 12 item 7: p99 within 1 s,
// missed by 1-3 s in some runs). While the phase runs, this samples what the coordinator cannot see:
// InnoDB's checkpoint age, dirty pages, page flushes and pending fsyncs, each process's CPU and the
// machine's (other sessions' work shows as busy cores the cluster did not use), the load average.
// At the end it joins that to the coordinator's own per-second timeline (GET /status/timeline: its
// pages, moves, lateness, batch times, event-loop delay, GC pauses) and prints the seconds around
// each transition's latest commit.

const INNODB = [
  "Innodb_checkpoint_age",
  "Innodb_buffer_pool_pages_dirty",
  "Innodb_buffer_pool_pages_flushed",
  "Innodb_data_pending_fsyncs",
  "Innodb_os_log_pending_fsyncs",
  "Innodb_buffer_pool_wait_free",
  "Innodb_log_waits",
  "Innodb_row_lock_current_waits",
];

/** A second of the joined timelines, as the bench prints and keeps it. */
export interface StallSecond {
  at: string;
  series: Record<string, { n: number; max: number; sum: number }>;
}

export interface StallReport {
  kind: string;
  /** The latest commit's second and lateness (ms). */
  worstAt: string;
  worstLateMs: number;
  seconds: StallSecond[];
}

export class StallWatch {
  private readonly t = new Timeline();
  private timer?: NodeJS.Timeout;
  private last?: { cpu: Map<number, number>; stat: number[]; innodb: Map<string, number>; at: number };
  private sampling = false;
  /** Its own connection: the seeder's are busy with deletes when it matters. */
  private readonly pool: Pool;

  constructor(
    mysqlUrl: string,
    private readonly procs: () => WatchedProcess[],
  ) {
    this.pool = createPool({ ...parseMysqlUrl(mysqlUrl), connectionLimit: 1 });
  }

  /** Into the bench's side of the timeline (e.g. the seeder's delete transactions). */
  record(series: string, value: number): void {
    this.t.record(series, value);
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), 500);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pool.end();
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const at = performance.now();
      const [rows] = await this.pool.query<RowDataPacket[]>(
        `SHOW GLOBAL STATUS WHERE Variable_name IN (${INNODB.map(() => "?").join(",")})`,
        INNODB,
      );
      const innodb = new Map(rows.map((r) => [String(r.Variable_name), Number(r.Value)]));
      const list = this.procs();
      const cpu = cpuSnapshot(list);
      const stat = machineCpu();
      this.t.record("innodb.ckpt_mb", (innodb.get("Innodb_checkpoint_age") ?? 0) / 1e6);
      this.t.record("innodb.dirty", innodb.get("Innodb_buffer_pool_pages_dirty") ?? 0);
      this.t.record(
        "innodb.pending_fsyncs",
        (innodb.get("Innodb_data_pending_fsyncs") ?? 0) + (innodb.get("Innodb_os_log_pending_fsyncs") ?? 0),
      );
      this.t.record("innodb.lock_waits", innodb.get("Innodb_row_lock_current_waits") ?? 0);
      this.t.record("load1", loadavg()[0]);
      const last = this.last;
      if (last) {
        const secs = (at - last.at) / 1000;
        const delta = (name: string) => ((innodb.get(name) ?? 0) - (last.innodb.get(name) ?? 0)) / secs;
        this.t.record("innodb.flushed_per_s", delta("Innodb_buffer_pool_pages_flushed"));
        this.t.record("innodb.wait_free_per_s", delta("Innodb_buffer_pool_wait_free"));
        this.t.record("innodb.log_waits_per_s", delta("Innodb_log_waits"));
        for (const p of list) {
          const a = last.cpu.get(p.pid);
          const b = cpu.get(p.pid);
          if (a !== undefined && b !== undefined) this.t.record(`cpu.${p.name}`, (b - a) / secs);
        }
        // Cores busy machine-wide (all processes, ours and others'), and waiting on the disk.
        const d = stat.map((v, i) => v - last.stat[i]);
        const total = d.reduce((x, y) => x + y, 0) || 1;
        const cores = stat.length ? cpuCores() : 1;
        this.t.record("cpu.machine", ((total - d[3] - d[4]) / total) * cores);
        this.t.record("cpu.iowait", (d[4] / total) * cores);
      }
      this.last = { cpu, stat, innodb, at };
    } catch {
      // a sample missed (MariaDB busy or closing): the next one will do
    } finally {
      this.sampling = false;
    }
  }

  /**
   * The seconds before and just after each transition's latest commit (its largest `late`), from
   * the coordinator's timeline and this one, joined by second.
   */
  async report(url: string, kinds: string[], sinceMs: number): Promise<{ stalls: StallReport[]; timeline: StallSecond[] }> {
    const res = await request(`${url}/status/timeline?since=${sinceMs}`, { headers: authorizationFor(url) });
    const coordinator = ((await res.body.json()) as { timeline: TimelineSecond[] }).timeline;
    const joined = new Map<number, TimelineSecond>();
    for (const s of [...coordinator, ...this.t.view(sinceMs)]) {
      const j = joined.get(s.at) ?? { at: s.at, series: {} };
      Object.assign(j.series, s.series);
      joined.set(s.at, j);
    }
    const all = [...joined.values()].sort((a, b) => a.at - b.at);
    const out: StallReport[] = [];
    for (const kind of kinds) {
      let worst: TimelineSecond | undefined;
      for (const s of all) if ((s.series[`${kind}.late`]?.max ?? -1) > (worst?.series[`${kind}.late`]?.max ?? -1)) worst = s;
      if (!worst) continue;
      const late = worst.series[`${kind}.late`].max;
      const from = worst.at - Math.ceil(late / 1000) * 1000 - 2000;
      out.push({
        kind,
        worstAt: new Date(worst.at).toISOString(),
        worstLateMs: Math.round(late),
        seconds: all
          .filter((s) => s.at >= from && s.at <= worst!.at + 1000)
          .map((s) => ({ at: new Date(s.at).toISOString(), series: s.series })),
      });
    }
    return { stalls: out, timeline: all.map((s) => ({ at: new Date(s.at).toISOString(), series: s.series })) };
  }
}

/** One line per second: what moved and how late, the slowest page and batches, the loop, GC, InnoDB, CPU. */
export function formatStall(r: StallReport, kind: string): string[] {
  const f = (v: number | undefined, d = 0) => (v === undefined ? "-" : v.toFixed(d));
  const lines = [`${kind}: latest commit ${r.worstLateMs} ms after due, in the second of ${r.worstAt}; the seconds before it:`];
  for (const s of r.seconds) {
    const g = (name: string) => s.series[name];
    const batches = Object.entries(s.series)
      .filter(([k]) => k.startsWith("batch."))
      .map(([k, v]) => `${k.slice(6)} ${v.n}x max ${f(v.max)}`)
      .join(", ");
    const cpu = Object.entries(s.series)
      .filter(([k]) => k.startsWith("cpu.") && k !== "cpu.machine" && k !== "cpu.iowait")
      .filter(([, v]) => v.max >= 0.05)
      .map(([k, v]) => `${k.slice(4)} ${f(v.max, 2)}`)
      .join(" ");
    const gcSum = Object.entries(s.series)
      .filter(([k]) => k.startsWith("gc."))
      .reduce((a, [, v]) => a + v.sum, 0);
    const gcMax = Object.entries(s.series)
      .filter(([k]) => k.startsWith("gc."))
      .reduce((a, [k, v]) => (v.max > a.max ? { max: v.max, kind: k.slice(3) } : a), { max: 0, kind: "" });
    lines.push(
      `  ${s.at.slice(11, 19)} ${kind} moved ${g(`${kind}.late`)?.n ?? 0} late max ${f(g(`${kind}.late`)?.max)}` +
        ` (pickup ${f(g(`${kind}.pickup`)?.max)}, move ${f(g(`${kind}.move`)?.max)}, slot wait ${f(g(`${kind}.slot`)?.max)})` +
        ` | page ${g(`${kind}.page`)?.n ?? 0}x max ${f(g(`${kind}.page`)?.max)} | ${batches}` +
        ` | loop ${f(g("loop")?.max)} gc ${f(gcSum)} (max ${f(gcMax.max)} ${gcMax.kind})` +
        ` | ckpt ${f(g("innodb.ckpt_mb")?.max, 1)} MB dirty ${f(g("innodb.dirty")?.max)} flushed ${f(g("innodb.flushed_per_s")?.max)}/s` +
        ` fsyncs pending ${f(g("innodb.pending_fsyncs")?.max)} lock waits ${f(g("innodb.lock_waits")?.max)}` +
        ` | cores busy ${f(g("cpu.machine")?.max, 2)} iowait ${f(g("cpu.iowait")?.max, 2)} load ${f(g("load1")?.max, 1)} | ${cpu}` +
        (g("bench.delete") ? ` | deletes ${g("bench.delete")!.n}x max ${f(g("bench.delete")!.max)}` : ""),
    );
  }
  return lines;
}

/** /proc/stat's first line: user nice system idle iowait irq softirq steal (ticks). */
function machineCpu(): number[] {
  try {
    return readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
  } catch {
    return [];
  }
}

function cpuCores(): number {
  try {
    return readFileSync("/proc/stat", "utf8")
      .split("\n")
      .filter((l) => /^cpu\d/.test(l)).length;
  } catch {
    return 1;
  }
}
