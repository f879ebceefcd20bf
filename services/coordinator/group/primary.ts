import cluster, { type Worker } from "node:cluster";
import { loadConfig } from "../../common/config";
import type { Logger } from "../../common/logger";
import { onShutdown } from "../../common/process";
import { ConnectionHandOff } from "./connection-hand-off";
import { isWorkerLoadMessage, isWorkerStateMessage } from "./messages";

// A group of coordinators behind one HTTP, one gRPC and one S3 port, with Node's cluster module for
// the processes. The primary listens on the ports itself and hands each new connection to one ready
// worker, the first with room (connection-hand-off.ts, connection-placement.ts); bytes then flow
// between the client and that worker alone, so the group costs a file descriptor pass per
// connection, not a copy per byte. Killing one worker loses only the requests on its connections;
// the primary forks a new one (a new coordinator id).

export interface GroupOptions {
  workers: number;
  /**
   * First re-fork delay for a worker that died before it was ready (a crash at start: bad disk,
   * database refusing…); doubles on each such death in a row, up to maxBackoffMs.
   */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a stop waits for the workers after SIGTERM before the primary exits (they then die with it). */
  graceMs?: number;
}

/** Exit status of a service with an invalid configuration (services/common/config.ts loadConfig). */
const CONFIG_ERROR_EXIT = 2;

interface Slot {
  index: number;
  worker?: Worker;
  /** The worker serves (said "ready"). */
  ready: boolean;
  backoffMs: number;
  timer?: NodeJS.Timeout;
}

/**
 * Listens on the group's ports, forks the workers, re-forks one that dies, and on SIGTERM/SIGINT (or
 * when the launcher that started this process is gone) stops listening, passes SIGTERM to every
 * worker and exits once all have exited. A worker that exits for bad configuration stops the group
 * with the same status, as a lone coordinator would exit.
 *
 * Re-forking: a worker that was serving, or one killed by a signal (SIGKILL by an operator or the
 * OOM killer: each try costs a whole start, no busy loop), is replaced at once: with a worker killed
 * every 5 s, the old rule (backoff 250 ms doubling to 5 s, reset only after 10 s up) left both
 * workers down together. A worker that exits by itself before it is ready (database refused, bad
 * disk…) is a crash loop in the making: it waits initialBackoffMs, doubling, until one is ready.
 */
export async function runGroupPrimary(log: Logger, opts: GroupOptions): Promise<void> {
  const initialBackoffMs = opts.initialBackoffMs ?? 250;
  const maxBackoffMs = opts.maxBackoffMs ?? 5_000;
  const graceMs = opts.graceMs ?? 10_000;
  const cfg = loadConfig(["host", "httpPort", "grpcPort", "s3Port"]);
  const doors = new ConnectionHandOff(log, { host: cfg.host, ports: { http: cfg.httpPort, grpc: cfg.grpcPort, s3: cfg.s3Port } });
  const ports = await doors.listen();
  // Workers learn the ports bound (a port 0 setting becomes a real one) to report them.
  const workerEnv = { MINIS3_HTTP_PORT: String(ports.http), MINIS3_GRPC_PORT: String(ports.grpc), MINIS3_S3_PORT: String(ports.s3) };

  let stopping = false;
  let allGone: () => void = () => undefined;
  const gone = new Promise<void>((resolve) => (allGone = resolve));
  const slots: Slot[] = Array.from({ length: opts.workers }, (_, index) => ({ index, ready: false, backoffMs: initialBackoffMs }));
  const running = () => slots.filter((s) => s.worker).length;

  const fork = (slot: Slot): void => {
    const worker = cluster.fork(workerEnv);
    slot.worker = worker;
    slot.ready = false;
    worker.on("message", (m: unknown) => {
      if (slot.worker !== worker) return;
      if (isWorkerLoadMessage(m)) return doors.workerLoad(worker, m.elu, m.writable);
      if (!isWorkerStateMessage(m)) return;
      if (m.minis3 === "ready") {
        slot.ready = true;
        slot.backoffMs = initialBackoffMs;
        doors.workerReady(worker);
      } else doors.workerGone(worker);
    });
    // Its channel closes as it dies, a moment before 'exit': no connection may go to it after that.
    worker.on("disconnect", () => doors.workerGone(worker));
    worker.on("exit", (code: number | null, signal: NodeJS.Signals | null) => onExit(slot, worker, code, signal));
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: NodeJS.Signals | null): void => {
    doors.workerGone(worker);
    if (slot.worker !== worker) return;
    const wasReady = slot.ready;
    slot.worker = undefined;
    slot.ready = false;
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
    let delay = 0;
    if (!wasReady && !signal) {
      delay = slot.backoffMs;
      slot.backoffMs = Math.min(slot.backoffMs * 2, maxBackoffMs);
    }
    log.warn({ worker: worker.process.pid, exit: how, wasReady, restartInMs: delay }, "a coordinator exited unexpectedly; forking another");
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (!stopping) fork(slot);
    }, delay);
  };

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    doors.close();
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
  log.info({ coordinators: opts.workers, workers: slots.map((s) => s.worker?.process.pid), ports }, "coordinator group started");
}
