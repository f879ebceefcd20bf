import { performance } from "node:perf_hooks";
import { batchMetrics, type BatchMetrics } from "./metrics/batch-metrics";
import { timeline } from "./metrics/timeline";

/**
 * Groups concurrent requests into batches handled by one call (one SQL transaction, one fsync...).
 * A batch is flushed as soon as fewer than `parallel` flushes are running, so an idle system adds no
 * delay, and under load requests gather while the previous batch is in flight: the batch size adapts
 * to the load instead of waiting on a timer (a fixed batch size above what is in flight never fills).
 * Batches keep submission order; each takes the longest prefix of the queue that `fits` allows.
 */
export interface GroupCommitOptions<T> {
  maxBatch?: number;
  /** Batches in flight at once. */
  parallel?: number;
  /** Whether `next` may join `batch` (never called with an empty batch); default: always. */
  fits?: (batch: readonly T[], next: T) => boolean;
  /**
   * When a batch of several fails with an error this accepts, each item is retried alone, in order,
   * so one bad item (a value the database refuses) fails only itself. Only for all-or-nothing
   * flushes, and only for errors about the items: retrying one by one while the store is away
   * would only multiply the wait.
   */
  splitOnFailure?: (e: unknown) => boolean;
  /** Named: each flush's size is a metric (minis3_batch_size{batch=name}). */
  name?: string;
}

export class GroupCommit<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly maxBatch: number;
  private readonly parallel: number;
  private readonly fits: (batch: readonly T[], next: T) => boolean;
  private readonly splitOnFailure: (e: unknown) => boolean;
  private readonly metrics?: BatchMetrics;
  /** The timeline's series for this batch's flush times (ms), when named. */
  private readonly series?: string;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    opts: GroupCommitOptions<T> = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 64;
    this.parallel = opts.parallel ?? 1;
    this.fits = opts.fits ?? (() => true);
    this.splitOnFailure = opts.splitOnFailure ?? (() => false);
    this.metrics = opts.name === undefined ? undefined : batchMetrics(opts.name);
    this.series = opts.name === undefined ? undefined : `batch.${opts.name}`;
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running < this.parallel) queueMicrotask(() => this.drain());
    });
  }

  /** Resolves once everything submitted so far has been handled (stored or failed). */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    while (this.running < this.parallel && this.queue.length > 0) {
      const batch = [this.queue.shift()!];
      const items = [batch[0].item];
      while (batch.length < this.maxBatch && this.queue.length && this.fits(items, this.queue[0].item)) {
        batch.push(this.queue.shift()!);
        items.push(batch[batch.length - 1].item);
      }
      this.running++;
      this.metrics?.flushed(items.length);
      const started = performance.now();
      this.flush(items)
        .then(
          (results) => batch.forEach((b, i) => b.resolve(results[i])),
          (e) => (batch.length > 1 && this.splitOnFailure(e) ? this.oneByOne(batch) : batch.forEach((b) => b.reject(e))),
        )
        .finally(() => {
          if (this.series) timeline.record(this.series, performance.now() - started);
          this.running--;
          this.drain();
          if (this.running === 0 && this.queue.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
        });
    }
  }

  private async oneByOne(batch: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[]): Promise<void> {
    for (const b of batch) {
      await this.flush([b.item]).then(
        (results) => b.resolve(results[0]),
        (e) => b.reject(e),
      );
    }
  }
}
