import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { createInterface } from "node:readline";
import type { ProcessSpec } from "./plan";

// Runs a plan's processes: spawns each, prefixes its output lines with its name, restarts one that
// dies unexpectedly (with backoff), and stops them all with SIGTERM, then SIGKILL after a grace period.

export type OutputStream = "stdout" | "stderr";

export interface SupervisorOptions {
  /** Each line a child prints. Default: written to our own stdout/stderr as "[name] line". */
  onLine?: (name: string, stream: OutputStream, line: string) => void;
  /** The supervisor's own messages (restarts, exits). Default: stderr, prefixed "[launcher]". */
  onNotice?: (message: string) => void;
  /** First restart delay; doubles on each quick crash (an exit by itself), up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A child that ran this long before dying is restarted after initialBackoffMs again. */
  stableAfterMs?: number;
  /** How long a stop waits after SIGTERM before SIGKILL. */
  graceMs?: number;
  /** Lines of each child's output kept for diagnostics (tail()). */
  tailLines?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessStatus {
  name: string;
  kind: ProcessSpec["kind"];
  pid: number | undefined;
  running: boolean;
  restarts: number;
  lastExit: ExitInfo | undefined;
}

/** Exit status a service uses for invalid configuration (services/common/config.ts loadConfig). */
const CONFIG_ERROR_EXIT = 2;

interface Child {
  spec: ProcessSpec;
  proc?: ChildProcess;
  /** Whether it should be running: false after a deliberate stop, so its exit is not "unexpected". */
  wanted: boolean;
  restarts: number;
  backoffMs: number;
  startedAt: number;
  restartTimer?: NodeJS.Timeout;
  closed?: Promise<ExitInfo>;
  lastExit?: ExitInfo;
  tail: string[];
}

/**
 * Events: "spawn" (name, pid); "exit" (name, ExitInfo, expected: boolean); "fatal" (name, reason) when
 * a child exits in a way a restart cannot fix (bad configuration); it is then left stopped.
 */
export class Supervisor extends EventEmitter {
  private readonly children = new Map<string, Child>();
  private readonly opts: Required<SupervisorOptions>;
  private readonly width: number;

  constructor(specs: readonly ProcessSpec[], opts: SupervisorOptions = {}) {
    super();
    this.width = Math.max(...specs.map((s) => s.name.length));
    this.opts = {
      onLine: (name, stream, line) =>
        writeQuietly(stream === "stdout" ? process.stdout : process.stderr, `[${name.padEnd(this.width)}] ${line}\n`),
      onNotice: (message) => writeQuietly(process.stderr, `[launcher] ${message}\n`),
      initialBackoffMs: 250,
      maxBackoffMs: 10_000,
      stableAfterMs: 10_000,
      graceMs: 10_000,
      tailLines: 200,
      ...opts,
    };
    for (const spec of specs) {
      if (this.children.has(spec.name)) throw new Error(`two processes named ${spec.name}`);
      this.children.set(spec.name, { spec, wanted: false, restarts: 0, backoffMs: this.opts.initialBackoffMs, startedAt: 0, tail: [] });
    }
    // Nothing we start may outlive us, even when we exit without stopAll (an uncaught error, a test runner quitting).
    process.once("exit", this.killAllNow);
  }

  names(): string[] {
    return [...this.children.keys()];
  }

  spec(name: string): ProcessSpec {
    return this.child(name).spec;
  }

  startAll(): void {
    for (const name of this.children.keys()) this.start(name);
  }

  /** Starts a process (again) and resumes restarting it when it dies. No-op if it runs. */
  start(name: string): void {
    const c = this.child(name);
    c.wanted = true;
    clearTimeout(c.restartTimer);
    c.restartTimer = undefined;
    if (!c.proc) this.spawn(c);
  }

  /** Stops a process and keeps it stopped (no restart) until start(). Resolves once it has exited. */
  async stop(name: string, signal: NodeJS.Signals = "SIGTERM"): Promise<ExitInfo | undefined> {
    const c = this.child(name);
    c.wanted = false;
    clearTimeout(c.restartTimer);
    c.restartTimer = undefined;
    const proc = c.proc;
    const closed = c.closed;
    if (!proc || !closed) return c.lastExit;
    proc.kill(signal);
    if (signal === "SIGKILL") return closed;
    let force: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      force = setTimeout(() => {
        this.opts.onNotice(`${name} did not exit ${this.opts.graceMs} ms after ${signal}; sending SIGKILL`);
        proc.kill("SIGKILL");
        resolve();
      }, this.opts.graceMs);
    });
    try {
      await Promise.race([closed, forced]);
      return await closed;
    } finally {
      clearTimeout(force);
    }
  }

  async restart(name: string): Promise<void> {
    await this.stop(name);
    this.start(name);
  }

  /** SIGTERM to every process at once, SIGKILL to those still running after the grace period. */
  async stopAll(): Promise<void> {
    await Promise.all(this.names().map((n) => this.stop(n)));
    process.removeListener("exit", this.killAllNow);
  }

  status(): ProcessStatus[] {
    return [...this.children.values()].map((c) => ({
      name: c.spec.name,
      kind: c.spec.kind,
      pid: c.proc?.pid,
      running: c.proc !== undefined,
      restarts: c.restarts,
      lastExit: c.lastExit,
    }));
  }

  pid(name: string): number | undefined {
    return this.child(name).proc?.pid;
  }

  /** The last lines a process printed (stdout and stderr interleaved), for error messages. */
  tail(name: string, lines = 30): string[] {
    return this.child(name).tail.slice(-lines);
  }

  private readonly killAllNow = (): void => {
    for (const c of this.children.values()) {
      c.wanted = false;
      clearTimeout(c.restartTimer);
      c.proc?.kill("SIGKILL");
    }
  };

  private child(name: string): Child {
    const c = this.children.get(name);
    if (!c) throw new Error(`no process named ${name} (have: ${this.names().join(", ")})`);
    return c;
  }

  private spawn(c: Child): void {
    const { name, script, env, nodeArgs, wrapper } = c.spec;
    // Own process group: a Ctrl-C at the terminal reaches only us, and we stop the children in order
    // (otherwise each would get SIGINT and then our SIGTERM, which services treat as "exit now").
    // The IPC channel carries nothing: it closes when we die, even by SIGKILL, and the child then
    // stops (services/common/process.ts runMain); being detached, it would otherwise run on.
    const [command, ...args] = [...(wrapper ?? []), process.execPath, ...(nodeArgs ?? []), script];
    const proc = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe", "ipc"], detached: true });
    proc.channel?.unref(); // our own lifetime stays as before: the output pipes and the children's exits
    c.proc = proc;
    c.startedAt = Date.now();
    for (const stream of ["stdout", "stderr"] as const) {
      const rl = createInterface({ input: proc[stream]!, crlfDelay: Infinity });
      rl.on("line", (line) => {
        c.tail.push(line);
        if (c.tail.length > this.opts.tailLines) c.tail.shift();
        this.opts.onLine(name, stream, line);
      });
    }
    c.closed = new Promise<ExitInfo>((resolve) => {
      let done = false;
      const finish = (info: ExitInfo) => {
        if (done) return;
        done = true;
        resolve(info);
        this.onExit(c, proc, info);
      };
      // "close" comes after the output pipes are drained, so the last lines are already delivered.
      proc.on("close", (code, signal) => finish({ code, signal }));
      proc.on("error", (err) => {
        // Spawn failed (no "close" follows when the process never started).
        if (proc.pid === undefined) {
          this.opts.onNotice(`${name} could not start: ${err.message}`);
          finish({ code: null, signal: null });
        }
      });
    });
    if (proc.pid !== undefined) this.emit("spawn", name, proc.pid);
  }

  private onExit(c: Child, proc: ChildProcess, info: ExitInfo): void {
    if (c.proc !== proc) return;
    c.proc = undefined;
    c.closed = undefined;
    c.lastExit = info;
    const name = c.spec.name;
    const expected = !c.wanted;
    this.emit("exit", name, info, expected);
    if (expected) return;
    const how = info.signal ? `signal ${info.signal}` : `status ${info.code}`;
    if (info.code === CONFIG_ERROR_EXIT) {
      c.wanted = false;
      this.opts.onNotice(`${name} exited with ${how} (invalid configuration); not restarting it`);
      this.emit("fatal", name, `exited with ${how} (invalid configuration)`);
      return;
    }
    if (Date.now() - c.startedAt >= this.opts.stableAfterMs) c.backoffMs = this.opts.initialBackoffMs;
    // Killed by a signal (an operator's or the OOM killer's SIGKILL, a chaos run): not a crash loop of
    // its own making, so no growing wait. A node killed every few seconds waited 250 ms, 500 ms, 1 s…
    // and stayed away longer each time, until a second storage node was down with it.
    const delay = info.signal ? this.opts.initialBackoffMs : c.backoffMs;
    if (!info.signal) c.backoffMs = Math.min(c.backoffMs * 2, this.opts.maxBackoffMs);
    this.opts.onNotice(`${name} exited unexpectedly with ${how}; restarting in ${delay} ms`);
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      if (!c.wanted || c.proc) return;
      c.restarts++;
      this.spawn(c);
    }, delay);
  }
}

/** Writing to a closed pipe (`npm start | head`) must not crash the launcher. */
function writeQuietly(stream: NodeJS.WriteStream, text: string): void {
  if (!stream.destroyed && stream.writable) stream.write(text, () => undefined);
}
