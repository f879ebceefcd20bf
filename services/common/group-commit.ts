/**
 * Groups concurrent requests into batches handled by one call (one SQL transaction, one fsync...).
 * A batch is flushed as soon as fewer than `parallel` flushes are running, so an idle system adds no
 * delay, and under load requests gather while the previous batch is in flight: the batch size adapts
 * to the load instead of waiting on a timer (a fixed batch size above what is in flight never fills).
 */
export class GroupCommit<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 64,
    private readonly parallel = 2,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running < this.parallel) queueMicrotask(() => this.drain());
    });
  }

  private drain(): void {
    while (this.running < this.parallel && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      this.flush(batch.map((b) => b.item)).then(
        (results) => batch.forEach((b, i) => b.resolve(results[i])),
        (e) => batch.forEach((b) => b.reject(e)),
      ).finally(() => {
        this.running--;
        this.drain();
      });
    }
  }
}
