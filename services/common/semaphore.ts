import { AbortedError } from "./errors";

interface Waiter {
  readonly weight: number;
  readonly take: () => void;
}

/**
 * At most `limit` units held at once; the rest wait in arrival order. Used where each holder pins
 * memory (a streaming copy keeps a few MiB in flight), so the total stays bounded. A holder takes
 * one unit unless it says how many (`weight`: bytes, for a budget of memory); one that asks for more
 * than the limit takes the whole limit, so it runs alone rather than never.
 */
export class Semaphore {
  private held = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a whole number ≥ 1 (got ${limit})`);
  }

  get inUse(): number {
    return this.held;
  }

  /** Runs fn once a slot is free, and frees the slot when it settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /**
   * Takes `weight` units (waiting for them); the caller must release() the same weight. For work that
   * outlives the caller. `signal`: a wait it aborts leaves the queue and rejects (AbortedError) holding
   * nothing, so a waiter that gave up takes nothing later; once the units are handed over, aborting
   * changes nothing.
   */
  async acquire(signal?: AbortSignal, weight = 1): Promise<void> {
    if (this.tryAcquire(weight)) return;
    if (signal?.aborted) throw new AbortedError("gave up waiting for a slot");
    const units = this.units(weight);
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        weight: units,
        take: () => {
          signal?.removeEventListener("abort", leave);
          resolve(); // the units are handed over
        },
      };
      const leave = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new AbortedError("gave up waiting for a slot"));
        this.handOver(); // the one behind a heavier quitter may fit now
      };
      this.waiting.push(waiter);
      signal?.addEventListener("abort", leave, { once: true });
    });
  }

  /**
   * Takes `weight` units, waiting at most `waitMs` for them: false (holding nothing) when the wait ran
   * out. Free units are taken at once, with no timer armed (the callers are on every upload's path).
   */
  async acquireWithin(waitMs: number, weight = 1): Promise<boolean> {
    if (this.tryAcquire(weight)) return true;
    return this.acquire(AbortSignal.timeout(waitMs), weight).then(
      () => true,
      () => false,
    );
  }

  /** Waiters in the queue. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Takes `weight` units if they are free now and no one waits (freed units go to the waiters first). */
  tryAcquire(weight = 1): boolean {
    const units = this.units(weight);
    if (this.waiting.length > 0 || this.held + units > this.limit) return false;
    this.held += units;
    return true;
  }

  /** Gives back `weight` units (what acquire or tryAcquire took). */
  release(weight = 1): void {
    this.held -= this.units(weight);
    this.handOver();
  }

  private units(weight: number): number {
    return Math.min(weight, this.limit);
  }

  /** The waiters at the head of the queue that fit now, in order. */
  private handOver(): void {
    while (this.waiting.length > 0 && this.held + this.waiting[0].weight <= this.limit) {
      const next = this.waiting.shift()!;
      this.held += next.weight;
      next.take();
    }
  }
}
