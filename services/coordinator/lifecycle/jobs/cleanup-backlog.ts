import { Semaphore } from "../../../common/semaphore";

/**
 * A transition's old copies deleted after its move, not in its path. A move is done once its
 * commit lists the old copies as pending (`cleanup`): from then on the version reads from its new
 * tier and nothing is lost if the deletes wait, crash or fail (the cleanup job and the reconciler
 * finish them). Waiting for them held each move through two more batches (the row-locked cleanup
 * transaction and the nodes' deletes), so a move's slot and its lateness included them. At most
 * `limit` run or wait here at once: past that, a move waits for room (backpressure), so deletes
 * that fall behind slow the moves down instead of piling up.
 */
export class CleanupBacklog {
  private readonly slots: Semaphore;
  private readonly running = new Set<Promise<void>>();

  constructor(limit: number) {
    this.slots = new Semaphore(limit);
  }

  /** Starts `clean` once there is room (resolves then, not when it is done). It must not throw. */
  async add(clean: () => Promise<void>): Promise<void> {
    await this.slots.acquire();
    const p: Promise<void> = clean().finally(() => {
      this.slots.release();
      this.running.delete(p);
    });
    this.running.add(p);
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves once every cleanup started so far has settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}
