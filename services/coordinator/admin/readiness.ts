// Can this coordinator serve? (GET /readyz, and the gRPC health service on its gRPC port.) Three
// checks, each bounded in time so a probe never hangs on a dead server: the catalogue answers a
// query, Redis answers a PING, and a write quorum of storage nodes is live. /healthz keeps its own
// older meaning (the catalogue and the quorum), which the launcher and test harness wait on.
import type { ReadinessCheck, ReadinessView } from "./cluster-admin";

export interface ReadinessDeps {
  readonly catalogue: { ping(): Promise<void> };
  /** The queues' Redis (the lifecycle's adds and the read caches' bus live there). */
  readonly redis: { ping(): Promise<void> };
  readonly placement: { liveStorageNodes(): number };
  readonly writeQuorum: number;
}

/** A probe answers within about this: a check not done by then counts as failed. */
export const READINESS_CHECK_TIMEOUT_MS = 2000;

/**
 * Runs the checks. A check still running from an earlier probe is joined, not started again: a
 * MariaDB that does not answer would otherwise collect one pending query per probe in the pool's queue.
 */
export class Readiness {
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: ReadinessDeps,
    private readonly timeoutMs = READINESS_CHECK_TIMEOUT_MS,
  ) {}

  async check(): Promise<ReadinessView> {
    const [database, redis] = await Promise.all([
      this.timed("database", () => this.deps.catalogue.ping()),
      this.timed("redis", () => this.deps.redis.ping()),
    ]);
    const live = this.deps.placement.liveStorageNodes();
    const needed = this.deps.writeQuorum;
    const writeQuorum: ReadinessCheck = {
      ok: live >= needed,
      liveStorageNodes: live,
      writeQuorum: needed,
      ...(live >= needed ? {} : { error: `${live} storage node(s) live, a write needs ${needed}` }),
    };
    const checks = { database, redis, writeQuorum };
    const failed = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([name]) => name);
    return { ready: failed.length === 0, failed, checks };
  }

  private async timed(name: string, run: () => Promise<void>): Promise<ReadinessCheck> {
    const started = performance.now();
    let running = this.pending.get(name);
    if (!running) {
      running = run();
      this.pending.set(name, running);
      const forget = () => this.pending.delete(name);
      running.then(forget, forget);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([running, timeout]);
      return { ok: true, ms: Math.round(performance.now() - started) };
    } catch (e) {
      return { ok: false, ms: Math.round(performance.now() - started), error: (e as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
