import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Pool } from "mysql2/promise";
import { ErrorCode, MiniS3Error } from "../../common/errors";
import type { Logger } from "../../common/logger";

/** Time on this process's monotonic clock; a fake one in tests. */
export interface FenceClock {
  now(): number;
}

const MONOTONIC: FenceClock = { now: () => performance.now() };

/** The epoch's one row (coordinators-schema.ts). */
const RAISE_SQL = "UPDATE cache_fence SET epoch = epoch + 1 WHERE id = 1";
/** Read on every presence heartbeat, in the same round trip (CoordinatorPresence). */
export const READ_FENCE_SQL = "SELECT epoch FROM cache_fence WHERE id = 1";

/** Pause between tries of a raise that failed (MariaDB away for a moment, a deadlock). */
const RETRY_MS = 100;

/**
 * The read caches' second lease, held through MariaDB: what lets a writer that cannot reach Redis
 * (or whose PUBLISH timed out, and may yet run) still acknowledge without a peer serving the old row.
 *
 * `cache_fence` holds one counter, the epoch. Every coordinator reads it on its presence heartbeat
 * (one more statement in that round trip, which runs every MINIS3_HEARTBEAT_INTERVAL anyway); a
 * look sent at `s` that shows the epoch it knew renews this lease to `s + leaseMs`, and one that
 * shows another epoch starts a new stretch (the read cache drops everything) whose lease runs from
 * `s` too. A cache serves only while both this lease and the bus's hold (InvalidationBus.leaseStretch).
 *
 * A writer whose invalidation was not published raises the epoch after its commit, and acknowledges
 * only `leaseMs` (+ margin) after the raise was answered at `r`. Any look that read the old epoch ran
 * before the raise committed, so it was sent before `r` and its lease ends before `r + leaseMs`; any
 * look that ran after it shows the new epoch and drops what was cached, which includes every row
 * read before the commit (lookups in flight across the drop cannot fill: ReadCache). So by the
 * acknowledgement each peer has dropped the old row or stopped serving. Looks answered out of order
 * only ever start extra stretches. The common path (Redis reachable) never raises it.
 */
export class CacheFence {
  private epoch: string | undefined;
  private until = -Infinity;
  private stretchNo = 0;

  constructor(
    private readonly pool: Pick<Pool, "query">,
    /** How long a look keeps the lease, from when it was sent: max(MINIS3_CACHE_LEASE, 2 heartbeat intervals). */
    readonly leaseMs: number,
    private readonly log: Logger,
    private readonly clock: FenceClock = MONOTONIC,
  ) {}

  /** A look sent at `sentAt` read `epoch` (CoordinatorPresence's heartbeat). */
  seen(sentAt: number, epoch: string): void {
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.stretchNo++;
    }
    this.until = Math.max(this.until, sentAt + this.leaseMs);
  }

  /** The current stretch of holding this lease under one epoch, or undefined (the lease lapsed). */
  stretch(): number | undefined {
    return this.clock.now() < this.until ? this.stretchNo : undefined;
  }

  /**
   * Raises the epoch (retrying for one lease); resolves once it is committed, or rejects with
   * CatalogueUnavailable: then peers may still serve the old rows, and the change must not be
   * acknowledged.
   */
  async raise(): Promise<void> {
    const giveUpAt = this.clock.now() + this.leaseMs;
    for (;;) {
      try {
        await this.pool.query(RAISE_SQL);
        return;
      } catch (e) {
        if (this.clock.now() + RETRY_MS >= giveUpAt) {
          this.log.warn({ err: e }, "read-cache fence: could not raise the epoch; the change is not acknowledged");
          throw new MiniS3Error(ErrorCode.CatalogueUnavailable, "the change landed but other coordinators' caches could not be fenced");
        }
        await sleep(RETRY_MS);
      }
    }
  }
}
