import cluster, { type Worker } from "node:cluster";
import type { Logger } from "../common/logger";
import { onShutdown } from "../common/process";

// A group of coordinators behind one HTTP and one gRPC port: Node's cluster module. Workers that
// listen on a port share the primary's listening socket, and the primary hands each new connection
// to one worker (round robin); bytes then flow between the client and that worker alone, so the
// group costs a file descriptor pass per connection, not a copy per byte. Killing one worker loses
// only the requests on its connections; the primary forks a new one (a new coordinator id).

export interface GroupOptions {
  workers: number;
  /** First re-fork delay after a worker dies; doubles on each quick death, up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A worker that ran this long before dying is re-forked after initialBackoffMs again. */
  stableAfterMs?: number;
  /** How long a stop waits for the workers after SIGTERM before the primary exits (they then die with it). */
  graceMs?: number;
}

/** Exit status of a service with an invalid configuration (services/common/config.ts loadConfig). */
const CONFIG_ERROR_EXIT = 2;

interface Slot {
  index: number;
  worker?: Worker;
  backoffMs: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
}

/**
 * Forks the workers, re-forks one that dies (with backoff), and on SIGTERM/SIGINT (or when the
 * launcher that started this process is gone) passes SIGTERM to every worker and exits once all
 * have exited. A worker that exits for bad configuration stops the group with the same status, as
 * a lone coordinator would exit.
 */
export async function runGroupPrimary(log: Logger, opts: GroupOptions): Promise<void> {
  const initialBackoffMs = opts.initialBackoffMs ?? 250;
  const maxBackoffMs = opts.maxBackoffMs ?? 5_000;
  const stableAfterMs = opts.stableAfterMs ?? 10_000;
  const graceMs = opts.graceMs ?? 10_000;
  let stopping = false;
  let allGone: () => void = () => undefined;
  const gone = new Promise<void>((resolve) => (allGone = resolve));
  const slots: Slot[] = Array.from({ length: opts.workers }, (_, index) => ({ index, backoffMs: initialBackoffMs, startedAt: 0 }));
  const running = () => slots.filter((s) => s.worker).length;

  const fork = (slot: Slot): void => {
    slot.startedAt = Date.now();
    const worker = cluster.fork();
    slot.worker = worker;
    worker.on("exit", (code: number | null, signal: NodeJS.Signals | null) => onExit(slot, worker, code, signal));
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: NodeJS.Signals | null): void => {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const how = signal ? `signal ${signal}` : `status ${code}`;
    if (stopping) {
      if (running() === 0) allGone();
      return;
    }
    if (code === CONFIG_ERROR_EXIT) {
      log.fatal({ worker: worker.process.pid }, "a coordinator exited for invalid configuration; stopping the group");
      stop();
      void gone.then(() => process.exit(CONFIG_ERROR_EXIT));
      return;
    }
    if (Date.now() - slot.startedAt >= stableAfterMs) slot.backoffMs = initialBackoffMs;
    const delay = slot.backoffMs;
    slot.backoffMs = Math.min(slot.backoffMs * 2, maxBackoffMs);
    log.warn({ worker: worker.process.pid, exit: how, restartInMs: delay }, "a coordinator exited unexpectedly; forking another");
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (!stopping) fork(slot);
    }, delay);
  };

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const slot of slots) {
      clearTimeout(slot.timer);
      slot.worker?.process.kill("SIGTERM");
    }
    if (running() === 0) allGone();
  };

  // The workers' own shutdown has its grace (10 s); ours is a little longer, so theirs decides.
  onShutdown(
    log,
    async () => {
      stop();
      await gone;
    },
    graceMs + 2_000,
  );
  for (const slot of slots) fork(slot);
  log.info({ coordinators: opts.workers, workers: slots.map((s) => s.worker?.process.pid) }, "coordinator group started");
}
