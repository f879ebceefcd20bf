import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

// What the MiniS3 processes (and the servers they use) cost: RSS and CPU time from /proc.

export interface WatchedProcess {
  /** "coordinator", a node id, "launcher", "mariadbd", "redis-server", or "bench" (this process). */
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

/** A process's arguments (its command first); throws when the process is gone. */
function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
}

/** One variable of a process's environment (as it was started); throws when the process is gone. */
export function envOf(pid: number, name: string): string | undefined {
  const prefix = `${name}=`;
  return readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .find((e) => e.startsWith(prefix))
    ?.slice(prefix.length);
}

/** A service's name from its command line and env: its MINIS3_NODE_ID, else the service folder. */
function nameOf(pid: number): string | undefined {
  try {
    const script = commandLine(pid).find((a) => /dist\/services\/[^/]+\/main\.js$/.test(a));
    if (!script) return undefined;
    const service = /dist\/services\/([^/]+)\/main\.js$/.exec(script)![1];
    return envOf(pid, "MINIS3_NODE_ID") || service;
  } catch {
    return undefined;
  }
}

const lastFound = new Map<string, { atMs: number; procs: WatchedProcess[] }>();

/**
 * MiniS3 processes found by their command line (`pgrep -f dist/services`), when the bench did not
 * start them. Given the URL of the cluster's coordinator, only that cluster's: the processes under
 * the same parent as the one listening on its port. Every one on the machine counted a test's
 * neighbour cluster too, and its names came first (CI saw `coordinator#<pid>` for the bench's own).
 * Looked up at most every 2 s: pgrep is a synchronous child process, and the RSS sampler asks ten
 * times a second (it was the bench's biggest CPU cost).
 */
export function findServiceProcesses(url?: string): WatchedProcess[] {
  const key = url ?? "";
  const last = lastFound.get(key);
  if (last && Date.now() - last.atMs < 2000) return last.procs;
  const procs = scanServiceProcesses(url === undefined ? undefined : localPort(url, 80));
  lastFound.set(key, { atMs: Date.now(), procs });
  return procs;
}

function scanServiceProcesses(port: number | undefined): WatchedProcess[] {
  const named = new Map<number, string>();
  for (const pid of pgrep(["-f", "dist/services/"])) {
    const name = nameOf(pid);
    if (name) named.set(pid, name);
  }
  let pids = [...named.keys()];
  const inodes = port === undefined ? undefined : listeningInodes().get(port);
  const listener = inodes && pids.find((pid) => holdsSocket(pid, inodes));
  let root: number | undefined;
  if (listener !== undefined) {
    // A coordinator group's worker may hold the socket: the cluster's parent is above its primary.
    const parentOfGroup = (pid: number): number | undefined => {
      let parent = parentOf(pid);
      while (parent !== undefined && named.has(parent)) parent = parentOf(parent);
      return parent;
    };
    root = parentOfGroup(listener);
    pids = pids.filter((pid) => parentOfGroup(pid) === root);
  }
  const found: WatchedProcess[] = [];
  for (const pid of pids) {
    const name = named.get(pid)!;
    found.push({ name: found.some((p) => p.name === name) ? `${name}#${pid}` : name, pid });
  }
  // `npm start`'s launcher is a server process too: it relays every line its services log (32 µs of
  // CPU a line, 2026-12-03), which no service's own figure shows.
  if (root !== undefined && isLauncher(root)) found.push({ name: "launcher", pid: root });
  return found;
}

function isLauncher(pid: number): boolean {
  try {
    return commandLine(pid).some((a) => /dist\/deploy\/launcher\/main\.js$/.test(a));
  } catch {
    return false;
  }
}

/** The parent's pid (field 4 of /proc/<pid>/stat), or undefined when the process is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** Where the cluster's servers listen (from its MySQL and Redis URLs). */
export interface InfraPorts {
  mysql?: number;
  redis?: number;
}

/**
 * The servers the cluster uses, whose CPU belongs in the cost of an operation too: of the running
 * `mariadbd` and `redis-server`, the one listening on the cluster's port. Without a port that one
 * of them holds, every one is listed, each under its own name: they used to share one, so a figure
 * was whichever server came last (often another session's private one).
 */
export function findInfraProcesses(ports: InfraPorts = {}): WatchedProcess[] {
  const listening = listeningInodes();
  const pick = (name: string, port: number | undefined): WatchedProcess[] => {
    const pids = pgrep(["-x", name]);
    const inodes = port === undefined ? undefined : listening.get(port);
    const server = inodes && pids.find((pid) => holdsSocket(pid, inodes));
    if (server) return [{ name, pid: server }];
    return pids.map((pid, i) => ({ name: i ? `${name}#${pid}` : name, pid }));
  };
  return [...pick("mariadbd", ports.mysql), ...pick("redis-server", ports.redis)];
}

/** The port a mysql:// or redis:// URL names on this machine, if it is local. */
export function localPort(url: string, fallback: number): number | undefined {
  const u = new URL(url);
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(u.hostname)) return undefined;
  return u.port ? Number(u.port) : fallback;
}

/** The pid of a process listening on this TCP port (any local address), if /proc shows one. */
export function listenerOf(port: number): number | undefined {
  const inodes = listeningInodes().get(port);
  if (!inodes) return undefined;
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .find((pid) => holdsSocket(pid, inodes));
}

/** Listening TCP sockets' inodes by local port (/proc/net/tcp and tcp6: state 0A is LISTEN). */
function listeningInodes(): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A") continue;
      const port = parseInt(f[1].slice(f[1].lastIndexOf(":") + 1), 16);
      (out.get(port) ?? out.set(port, new Set()).get(port)!).add(f[9]);
    }
  }
  return out;
}

function holdsSocket(pid: number, inodes: Set<string>): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m !== null && inodes.has(m[1]);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
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
