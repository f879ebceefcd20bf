import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { ErrorCode, MiniS3Error } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { RequestId } from "../../common/request-context";
import type { JobScheduler } from "./jobs/job";
import { jobId, QUEUE_NAMES, type QueueName, type TransitionJob } from "./queues";

export interface QueueStatus {
  name: string;
  waiting: number;
  delayed: number;
  active: number;
  failed: number;
}

/**
 * Queues lifecycle jobs. Adds gathered within one event-loop turn go to Redis in one addBulk per
 * queue. A failed add is only logged: the catalogue already holds the truth and the reconciler
 * queues whatever is due and has no job.
 */
export class Scheduler implements JobScheduler {
  private pending = new Map<QueueName, { name: string; data: TransitionJob; opts: { jobId: string; delay?: number } }[]>();
  private flushing = false;

  constructor(
    private readonly queues: Record<QueueName, Queue<TransitionJob>>,
    private readonly log: Logger,
  ) {}

  add(queue: QueueName, versionId: string, atMs?: number, dueKey?: number, requestId?: RequestId): void {
    const delay = atMs === undefined ? undefined : Math.max(0, atMs - Date.now());
    const list = this.pending.get(queue) ?? this.pending.set(queue, []).get(queue)!;
    const data = requestId === undefined ? { versionId } : { versionId, requestId };
    list.push({ name: queue, data, opts: { jobId: jobId(queue, versionId, dueKey), delay } });
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    const batches = this.pending;
    this.pending = new Map();
    this.flushing = false;
    await Promise.all(
      [...batches].map(([q, jobs]) =>
        this.queues[q].addBulk(jobs).catch((e) => {
          this.log.warn({ err: e, queue: q, count: jobs.length }, "could not queue jobs; the reconciler will");
        }),
      ),
    );
  }

  /**
   * Whether the queues' Redis answers (readiness). Their client has no offline queue, so this fails
   * at once while the connection is down.
   */
  async ping(): Promise<void> {
    // An ioredis client underneath (queues.ts builds the connection from ioredis options).
    const client = (await this.queues[QUEUE_NAMES[0]].backend.client) as unknown as Pick<Redis, "ping">;
    await client.ping();
  }

  /** Jobs out of retries stay visible as failed for a while, then go round again. */
  async retryFailed(finishedBeforeMs: number): Promise<void> {
    for (const name of QUEUE_NAMES) {
      if (name === "reconcile") continue;
      const failed = await this.queues[name].getFailed(0, 99);
      for (const job of failed) {
        if ((job.finishedOn ?? 0) < finishedBeforeMs) await job.retry("failed").catch(() => undefined);
      }
    }
  }

  /**
   * Depth of every queue. Commands wait for Redis while it is away (the queues must not drop jobs),
   * so this gives up after a few seconds: /status still answers, saying Redis did not.
   */
  async queueStatus(timeoutMs = 3000): Promise<QueueStatus[]> {
    const counts = Promise.all(
      QUEUE_NAMES.map(async (name) => {
        const c = await this.queues[name].getJobCounts("waiting", "delayed", "active", "failed", "prioritized");
        return {
          name,
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          delayed: c.delayed ?? 0,
          active: c.active ?? 0,
          failed: c.failed ?? 0,
        };
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new MiniS3Error(ErrorCode.QueueUnavailable, `Redis did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([counts, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
