import { AbortedError } from "./errors";

/**
 * At most `limit` holders at once; the rest wait in arrival order. Used where each holder pins
 * memory (a streaming copy keeps a few MiB in flight), so the total stays bounded.
 */
export class Semaphore {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

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
   * Takes a slot (waiting for one); the caller must release() it. For work that outlives the caller.
   * `signal`: a wait it aborts leaves the queue and rejects (AbortedError) holding nothing, so a
   * waiter that gave up takes no slot later; once the slot is handed over, aborting changes nothing.
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.held < this.limit) {
      this.held++;
      return;
    }
    if (signal?.aborted) throw new AbortedError("gave up waiting for a slot");
    await new Promise<void>((resolve, reject) => {
      const take = () => {
        signal?.removeEventListener("abort", leave);
        resolve(); // the slot is handed over
      };
      const leave = () => {
        const at = this.waiting.indexOf(take);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new AbortedError("gave up waiting for a slot"));
      };
      this.waiting.push(take);
      signal?.addEventListener("abort", leave, { once: true });
    });
  }

  /** Waiters in the queue. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Takes a slot if one is free now (no one waits then: a freed slot goes to a waiter first). */
  tryAcquire(): boolean {
    if (this.held >= this.limit) return false;
    this.held++;
    return true;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held--;
  }
}
