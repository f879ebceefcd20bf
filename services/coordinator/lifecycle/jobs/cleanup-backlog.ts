import { Semaphore } from "../../../common/semaphore";

/**
 * A transition's old copies deleted after its move, not in its path. A move is done once its
 * commit lists the old copies as pending (`cleanup`, durable): from then on the version reads from
 * its new tier and nothing is lost if the deletes wait, crash or fail. At most `limit` deletes run
 * or wait for their batch here at once (bounded memory). A move never waits for room: past the
 * limit its copies stay listed in the catalogue, and the due-row poller pages such rows back in as
 * room frees (`left`, `whenLeft`). Moves used to wait for room, so through a 100,000-object trash
 * phase every move went at the rate the backup node's deletes finished (bench/README.md, Step 6).
 */
export class CleanupBacklog {
  private readonly slots: Semaphore;
  private readonly running = new Set<Promise<void>>();
  /** Versions being cleaned (how many times): a row paged back in is skipped while its cleanup runs. */
  private readonly versions = new Map<string, number>();
  /** Cleanups left to the catalogue since the last `takeLeft()`. */
  private left = 0;
  private onLeft?: () => void;

  constructor(limit: number) {
    this.slots = new Semaphore(limit);
  }

  /**
   * Starts `clean` if there is room now and answers true; else answers false and leaves it to the
   * catalogue (the row lists the copies). `clean` must not throw.
   */
  offer(versionId: string, clean: () => Promise<void>): boolean {
    // No check for a cleanup of the version already running: it may have read the row before this
    // move's commit added the copies.
    if (!this.slots.tryAcquire()) {
      this.left++;
      this.onLeft?.();
      return false;
    }
    this.start(versionId, clean);
    return true;
  }

  /** Starts `clean` once there is room (resolves then, not when it is done). It must not throw. */
  async add(versionId: string, clean: () => Promise<void>): Promise<void> {
    await this.slots.acquire();
    this.start(versionId, clean);
  }

  has(versionId: string): boolean {
    return this.versions.has(versionId);
  }

  /** How many cleanups were left to the catalogue since the last call; counts from zero again. */
  takeLeft(): number {
    const n = this.left;
    this.left = 0;
    return n;
  }

  /** Resolves once a cleanup has been left to the catalogue since the last takeLeft() (or `stop` resolves). */
  whenLeft(stop: Promise<void>): Promise<void> {
    if (this.left) return Promise.resolve();
    return Promise.race([new Promise<void>((resolve) => (this.onLeft = resolve)), stop]).finally(() => (this.onLeft = undefined));
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves once every cleanup started so far has settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private start(versionId: string, clean: () => Promise<void>): void {
    this.versions.set(versionId, (this.versions.get(versionId) ?? 0) + 1);
    const p: Promise<void> = clean().finally(() => {
      this.slots.release();
      this.running.delete(p);
      const n = this.versions.get(versionId)! - 1;
      if (n) this.versions.set(versionId, n);
      else this.versions.delete(versionId);
    });
    this.running.add(p);
  }
}
