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

  /** Takes a slot (waiting for one); the caller must release() it. For work that outlives the caller. */
  async acquire(): Promise<void> {
    if (this.held < this.limit) this.held++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over
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
