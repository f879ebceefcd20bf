/**
 * Group commit: items submitted while a batch is being stored wait and go together in the next
 * batch, so concurrent callers share one transaction. No timer: a lone item is stored at once.
 * A batch is the longest prefix of the queue that `fits` allows (order is kept).
 */
export class GroupCommitter<I, R> {
  private readonly queue: Array<{ item: I; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private draining = false;
  private current: Promise<void> = Promise.resolve();

  constructor(
    /** Stores a batch; returns one result per item, in order. */
    private readonly storeBatch: (items: I[]) => Promise<R[]>,
    /** Whether `next` may join `batch` (never called with an empty batch). */
    private readonly fits: (batch: readonly I[], next: I) => boolean,
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.draining) this.current = this.drain();
    });
  }

  /** Resolves when everything submitted so far is stored (or failed). */
  async idle(): Promise<void> {
    while (this.draining) await this.current;
  }

  private async drain(): Promise<void> {
    // The flag is set and cleared with no await between it and the queue check, so an item
    // submitted at any moment is either seen by this loop or starts a new one.
    this.draining = true;
    try {
      while (this.queue.length) await this.storeNext();
    } finally {
      this.draining = false;
    }
  }

  private async storeNext(): Promise<void> {
    const batch = [this.queue.shift()!];
    const items = [batch[0].item];
    while (this.queue.length && this.fits(items, this.queue[0].item)) {
      batch.push(this.queue.shift()!);
      items.push(batch[batch.length - 1].item);
    }
    try {
      const results = await this.storeBatch(items);
      batch.forEach((b, i) => b.resolve(results[i]));
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }
}
