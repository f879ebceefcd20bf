import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

// What the MiniS3 processes (and the servers they use) cost: RSS and CPU time from /proc.

export interface WatchedProcess {
  /** "coordinator", a node id, "mariadbd", "redis-server", or "bench" (this process). */
  name: string;
  pid: number;
}

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Resident set size in bytes (VmRSS), or undefined when the process is gone. */
export function readRss(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds used so far, or undefined when the process is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * The processes and, under each, its child processes (a coordinator group's workers, forked by its
 * primary), named `<name>/<pid>`: the supervisor knows only the primary, which does no request work.
 */
export function withChildren(procs: WatchedProcess[]): WatchedProcess[] {
  return procs.flatMap((p) => [p, ...childrenOf(p.pid).map((pid) => ({ name: `${p.name}/${pid}`, pid }))]);
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function pgrep(args: string[]): number[] {
  try {
    return execFileSync("pgrep", args, { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** A service's name from its command line and env: its MINIS3_NODE_ID, else the service folder. */
function nameOf(pid: number): string | undefined {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const script = cmd.find((a) => /dist\/services\/[^/]+\/main\.js$/.test(a));
    if (!script) return undefined;
    const service = /dist\/services\/([^/]+)\/main\.js$/.exec(script)![1];
    const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    const id = env.find((e) => e.startsWith("MINIS3_NODE_ID="))?.slice("MINIS3_NODE_ID=".length);
    return id || service;
  } catch {
    return undefined;
  }
}

let lastFound: { atMs: number; procs: WatchedProcess[] } | undefined;

/**
 * MiniS3 processes found by their command line (`pgrep -f dist/services`), when the bench did not
 * start them. Looked up at most every 2 s: pgrep is a synchronous child process, and the RSS
 * sampler asks ten times a second (it was the bench's biggest CPU cost).
 */
export function findServiceProcesses(): WatchedProcess[] {
  if (lastFound && Date.now() - lastFound.atMs < 2000) return lastFound.procs;
  lastFound = { atMs: Date.now(), procs: scanServiceProcesses() };
  return lastFound.procs;
}

function scanServiceProcesses(): WatchedProcess[] {
  const found: WatchedProcess[] = [];
  for (const pid of pgrep(["-f", "dist/services/"])) {
    const name = nameOf(pid);
    if (name) found.push({ name: found.some((p) => p.name === name) ? `${name}#${pid}` : name, pid });
  }
  return found;
}

/** The shared servers, whose CPU belongs in the cost of an operation too. */
export function findInfraProcesses(): WatchedProcess[] {
  return [
    ...pgrep(["-x", "mariadbd"]).map((pid) => ({ name: "mariadbd", pid })),
    ...pgrep(["-x", "redis-server"]).map((pid) => ({ name: "redis-server", pid })),
  ];
}

/** CPU seconds each process used between two snapshots (from cpuSnapshot). */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>, procs: WatchedProcess[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of procs) {
    const a = before.get(p.pid);
    const b = after.get(p.pid);
    if (a !== undefined && b !== undefined) out[p.name] = Math.round((b - a) * 1000) / 1000;
  }
  return out;
}

export function cpuSnapshot(procs: WatchedProcess[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const p of procs) {
    const s = readCpuSeconds(p.pid);
    if (s !== undefined) m.set(p.pid, s);
  }
  return m;
}

/** Samples every process's RSS at an interval and keeps the maximum of each. */
export class RssSampler {
  private readonly max = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  samples = 0;

  constructor(
    private readonly procs: () => WatchedProcess[],
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): Record<string, number> {
    clearInterval(this.timer);
    this.sample();
    return Object.fromEntries([...this.max].map(([name, bytes]) => [name, bytes]));
  }

  private sample(): void {
    this.samples++;
    for (const p of this.procs()) {
      const rss = readRss(p.pid);
      if (rss !== undefined && rss > (this.max.get(p.name) ?? 0)) this.max.set(p.name, rss);
    }
  }
}
