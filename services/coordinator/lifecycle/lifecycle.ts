import { Worker, type ConnectionOptions, type Job, type Queue } from "bullmq";
import type { Logger } from "../../common/logger";
import type { ObjectView } from "../objects/object-engine";
import type { LifecycleFacade } from "../objects/object-store";
import { createQueues, QUEUE_NAMES, type QueueName, type TransitionJob } from "./queues";
import type { Reconciler } from "./reconciler";
import { Scheduler } from "./scheduler";
import type { Transitions } from "./transitions";

const CONCURRENCY: Record<QueueName, number> = { demote: 4, promote: 4, trash: 8, purge: 8, cleanup: 4, repair: 2, reconcile: 1 };

/**
 * The lifecycle's processes inside a coordinator: a BullMQ worker per queue running the
 * transitions, and the reconciler as a job scheduler (every coordinator upserts it; BullMQ runs
 * each tick once). The upsert is repeated every interval so that a Redis that lost everything
 * gets its scheduler back.
 */
export class Lifecycle implements LifecycleFacade {
  readonly queues: Record<QueueName, Queue<TransitionJob>>;
  readonly scheduler: Scheduler;
  private readonly workers: Worker[] = [];
  private timer?: NodeJS.Timeout;
  private transitions?: Transitions;
  private reconciler?: Reconciler;

  constructor(private readonly connection: ConnectionOptions, private readonly prefix: string,
    private readonly reconcileIntervalMs: number, private readonly log: Logger) {
    this.queues = createQueues(connection, prefix);
    for (const q of Object.values(this.queues)) q.on("error", (e) => log.warn({ err: e }, "queue error"));
    this.scheduler = new Scheduler(this.queues, log);
  }

  async start(transitions: Transitions, reconciler: Reconciler): Promise<void> {
    this.transitions = transitions;
    this.reconciler = reconciler;
    for (const name of QUEUE_NAMES) {
      const w = new Worker<TransitionJob>(name, (job) => this.handle(name, job), {
        connection: this.connection, prefix: this.prefix, concurrency: CONCURRENCY[name],
      });
      w.on("error", (e) => this.log.warn({ err: e, queue: name }, "worker error"));
      w.on("failed", (job, e) => this.log.warn({ queue: name, job: job?.id, attempts: job?.attemptsMade, err: e.message }, "job failed"));
      this.workers.push(w);
    }
    // Not awaited: with Redis away, start-up (and uploads, reads, deletes) must not wait for it;
    // the interval below keeps trying, and the reconciler catches up once Redis is back.
    void this.ensureReconcileSchedule();
    this.timer = setInterval(() => void this.ensureReconcileSchedule(), this.reconcileIntervalMs);
    this.timer.unref();
    // One pass now: whatever came due while no coordinator ran is queued at once.
    void this.handle("reconcile", undefined as unknown as Job<TransitionJob>).catch(() => undefined);
  }

  undelete(bucket: string, key: string): Promise<ObjectView> {
    return this.transitions!.undelete(bucket, key);
  }

  queueStatus() {
    return this.scheduler.queueStatus();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }

  private async handle(name: QueueName, job: Job<TransitionJob>): Promise<string | Record<string, number>> {
    const t = this.transitions!;
    switch (name) {
      case "demote": return t.demote(job.data.versionId);
      case "promote": return t.promote(job.data.versionId);
      case "trash": return t.trash(job.data.versionId);
      case "purge": return t.purge(job.data.versionId);
      case "cleanup": return t.cleanup(job.data.versionId);
      case "repair": return t.repair(job.data.versionId);
      case "reconcile": {
        const counts = await this.reconciler!.run();
        await this.retryExhausted();
        return counts;
      }
    }
  }

  private async ensureReconcileSchedule(): Promise<void> {
    try {
      await this.queues.reconcile.upsertJobScheduler("reconcile", { every: this.reconcileIntervalMs }, {
        name: "reconcile", data: { versionId: "" }, opts: { removeOnComplete: true, removeOnFail: true },
      });
    } catch (e) {
      this.log.warn({ err: e }, "could not schedule the reconciler");
    }
  }

  /** Jobs out of retries stay visible as failed for a while, then go round again. */
  private async retryExhausted(): Promise<void> {
    const cutoff = Date.now() - 10 * this.reconcileIntervalMs;
    for (const name of QUEUE_NAMES) {
      if (name === "reconcile") continue;
      const failed = await this.queues[name].getFailed(0, 99);
      for (const job of failed) {
        if ((job.finishedOn ?? 0) < cutoff) await job.retry("failed").catch(() => undefined);
      }
    }
  }
}
