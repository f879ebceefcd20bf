import { performance } from "node:perf_hooks";

/** How a CostBoundedRead prices its reads, and how long it keeps their answers. */
export interface ReadCost<T> {
  /** An answer is kept until it is older than this many times its read's cost... */
  costFactor: number;
  /** ...unless that cost was below this: a small catalogue answers fresh every time. */
  freeBelowMs: number;
  /** Any answer is kept at least this long, however cheap its read (default 0). */
  keepAtLeastMs?: number;
  /**
   * What the read cost, in ms: by default how long it took. A scan whose answer says how many rows
   * it read is priced by them instead, so a read slowed by a busy machine does not make a small
   * catalogue's answer kept.
   */
  costMs?: (value: T, tookMs: number) => number;
  now?: () => number;
}

/**
 * A read whose cost grows with the catalogue (the tier totals scan every version), taken again only
 * once its last answer is older than `costFactor` times what that read cost, so the scans take at
 * most ~1/costFactor of MariaDB's time whoever asks (the console polls /status every 5 s, each
 * scrape of a coordinator asks for its gauges, several operators at once). Callers asking while a
 * read runs share it; a failed read is not kept.
 *
 * Measured (2026-12-08, MariaDB 10.11, default 128 MiB buffer pool): the tier totals over 1,000,000
 * versions took 1.05-1.27 s each; over the 47,000 of the bench's overwrite row, 21 ms.
 */
export class CostBoundedRead<T> {
  private last: { value: T; at: number; costMs: number } | undefined;
  private pending: Promise<T> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly cost: ReadCost<T>,
  ) {
    this.now = cost.now ?? (() => performance.now());
  }

  get(): Promise<T> {
    if (!this.isDue()) return Promise.resolve(this.last!.value);
    return (this.pending ??= this.readNow());
  }

  /** Whether `get` would read now (or join the read running), rather than answer the last value. */
  isDue(): boolean {
    const last = this.last;
    if (!last) return true;
    const age = this.now() - last.at;
    if (age < (this.cost.keepAtLeastMs ?? 0)) return false;
    return last.costMs < this.cost.freeBelowMs || age >= last.costMs * this.cost.costFactor;
  }

  /** The next `get` reads again: what the last answer was read for has changed. */
  forget(): void {
    this.last = undefined;
  }

  private async readNow(): Promise<T> {
    const started = this.now();
    try {
      const value = await this.read();
      const at = this.now();
      const tookMs = at - started;
      this.last = { value, at, costMs: this.cost.costMs ? this.cost.costMs(value, tookMs) : tookMs };
      return value;
    } finally {
      this.pending = undefined;
    }
  }
}

/**
 * A scan's cost by the rows it read, at the ~1 µs a row MariaDB took here for the tier totals
 * (1.05-1.27 s over 1,000,000 versions, 2026-12-08).
 */
export const scanCostMs = (rows: number): number => rows / 1000;
