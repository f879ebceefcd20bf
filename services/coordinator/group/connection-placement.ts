// Which ready worker of a coordinator group takes a new connection.
//
// Not in turn: a worker's group commits (MariaDB transactions), Exchange batches to the storage
// nodes and trash-move batches are as large as the load it carries, and every per-batch cost is paid
// per batch. On a 2-core machine (the bench's private cluster, 4 KiB, 32 in flight) two workers
// handed connections in turn did 1,365 mixed ops/s at 1,305 µs of CPU an op (all server processes),
// against 1,739-1,837 ops/s at 897-967 µs with every connection on one of the two, and 2,208 at
// 711 µs with a lone coordinator (bench/README, 2026-12-02). So a connection goes to the first ready
// worker, in the order they became ready, that has room: its event loop was busy less than
// BUSY_ELU of the last report's window, the report is fresh, and it has not been handed
// BURST_CONNECTIONS since (the report cannot have seen what those bring: 500 connections opened
// at once must not all land on the worker that was idle a moment ago). When none has room, the
// least loaded one takes it: the lowest utilization plus the share of a burst handed since its
// report. A worker that reported it cannot write (its presence lease lapsed: a SIGSTOP that
// outlasted it, and it re-joins for about two heartbeats, answering writes 503) has no room, and is
// picked only when no writable worker is there; a stale worker (no report for STALE_MS: stopped,
// or its event loop blocked) only when every worker is stale, and then the one handed fewest since.

/**
 * How often a worker reports its event-loop utilization to the primary. Over 500 ms windows a worker
 * carrying the bench's 32 in flight alone read 0.88-0.98 once under way (2026-12-02, 2-core
 * machine): a second's window is steadier (the same series paired: 0.90-0.96), and a stop is
 * still seen within STALE_MS.
 */
export const REPORT_MS = 1_000;

export interface PlacementOptions {
  /** A worker at least this busy (event-loop utilization over its last report's window, 0-1) is full. */
  busyElu?: number;
  /** Connections handed to a worker since its last report beyond which it is full until the next one. */
  burstConnections?: number;
  /** A report older than this says nothing: the worker is treated as full. */
  staleMs?: number;
  now?: () => number;
}

/**
 * Full only when its loop is close to never idle. Measured on the bench's private cluster (2 cores,
 * 2026-12-02, bench/README): a worker saturating on the bench's 32 in flight alone reads 0.91-0.97 a
 * second (0.85-1.0 a half second), its idle partner 0.12-0.39 (its own background work, before the
 * due-row poller ran on one coordinator only); with a second bench process's 32 on it too,
 * 0.97-0.99. That second client, joining 10 s in, got 1.14-1.22x the operations of both together
 * done in the same 25 s on the same worker (a threshold above 1) as on the other (0.8), bench 1's
 * p99 67 against 84-93 ms, in two alternated pairs (a third run on the same worker, later, matched
 * the spread ones: this machine's noise): on 2 cores the cores, not one worker's loop, are the
 * limit, and larger batches cost fewer of them. So a busy worker keeps taking connections and one
 * pinned at its loop's limit hands on. 0.9 would have sat inside the saturated worker's readings: a
 * new client placed by chance.
 */
export const BUSY_ELU = 0.98;
/**
 * A pool's start of 32 connections opened at once stays on one worker (the bench's, the measured
 * best); the bench's --concurrency 256 went 128/128 (both loops then 0.96-1.0, 2,529 ops/s).
 */
export const BURST_CONNECTIONS = 64;
/** Two and a half reports missed: a stopped worker (SIGSTOP), or one whose loop is blocked. */
export const STALE_MS = 2.5 * REPORT_MS;

interface Load {
  /** Event-loop utilization over the last report's window; 0 until the first report. */
  elu: number;
  /** When that report came (or when the worker became ready, before its first). */
  at: number;
  /** Connections handed since. */
  handed: number;
  /** Connections handed since the last look (handedSince). */
  counted: number;
  /** Its last report said it may write (true until its first report). */
  writable: boolean;
}

export class ConnectionPlacement<W> {
  /** Ready workers in the order they became ready, each with its last report. */
  private readonly loads = new Map<W, Load>();
  private readonly busyElu: number;
  private readonly burst: number;
  private readonly staleMs: number;
  private readonly now: () => number;

  constructor(opts: PlacementOptions = {}) {
    this.busyElu = opts.busyElu ?? BUSY_ELU;
    this.burst = opts.burstConnections ?? BURST_CONNECTIONS;
    this.staleMs = opts.staleMs ?? STALE_MS;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.loads.size;
  }

  has(worker: W): boolean {
    return this.loads.has(worker);
  }

  /** The worker serves: it may be handed connections; it counts as idle until its first report. */
  add(worker: W): void {
    if (!this.loads.has(worker)) this.loads.set(worker, { elu: 0, at: this.now(), handed: 0, counted: 0, writable: true });
  }

  /** The worker stops or is gone: it is never picked again (unless added anew). */
  remove(worker: W): void {
    this.loads.delete(worker);
  }

  removeAll(): void {
    this.loads.clear();
  }

  /**
   * A worker's report: its event loop was busy `elu` (0-1) of the time since its previous one, and
   * whether it may write now.
   */
  report(worker: W, elu: number, writable = true): void {
    const load = this.loads.get(worker);
    if (!load || !Number.isFinite(elu)) return;
    load.writable = writable;
    load.elu = Math.min(1, Math.max(0, elu));
    load.at = this.now();
    load.handed = 0;
  }

  /** The worker to hand the next connection to (counted as handed), or undefined when none is ready. */
  pick(): W | undefined {
    const now = this.now();
    let best: W | undefined;
    let bestScore = Infinity;
    let fewest: W | undefined;
    let fewestHanded = Infinity;
    for (const [worker, load] of this.loads) {
      const fresh = now - load.at <= this.staleMs;
      if (fresh && load.writable && load.elu < this.busyElu && load.handed < this.burst) return this.hand(worker, load);
      if (fresh) {
        // Any writable worker, however loaded, before one that answers writes 503.
        const score = load.elu + load.handed / this.burst + (load.writable ? 0 : 2);
        if (score < bestScore) [best, bestScore] = [worker, score];
      } else if (load.handed < fewestHanded) [fewest, fewestHanded] = [worker, load.handed];
    }
    const chosen = best ?? fewest;
    return chosen === undefined ? undefined : this.hand(chosen, this.loads.get(chosen)!);
  }

  /** Each ready worker's last utilization and the connections handed it since the previous call. */
  handedSince(): { worker: W; elu: number; connections: number }[] {
    return [...this.loads].map(([worker, load]) => {
      const connections = load.counted;
      load.counted = 0;
      return { worker, elu: load.elu, connections };
    });
  }

  private hand(worker: W, load: Load): W {
    load.handed++;
    load.counted++;
    return worker;
  }
}
