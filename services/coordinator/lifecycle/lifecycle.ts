import { Worker } from "bullmq";
import type { Logger } from "../../common/logger";
import type { AccessTracker } from "../catalogue/access-tracker";
import type { Catalogue } from "../catalogue/catalogue";
import type { NodeDirectory } from "../cluster/node-directory";
import { NodeOutages } from "../cluster/node-outages";
import type { NodePool } from "../cluster/node-pool";
import type { ObjectView } from "../model/object-view";
import type { Undeleter } from "../objects/object-events";
import type { Placement } from "../placement/placement";
import { BlobCopier } from "../replicas/blob-copier";
import { JOBS } from "./jobs";
import type { JobContext, LifecycleOptions, TransitionJob } from "./jobs/job";
import { reconcile } from "./jobs/reconcile";
import type { LifecycleQueues } from "./queues";
import { Reconciler } from "./reconciler";
import type { Scheduler } from "./scheduler";
import { undelete } from "./undelete";

/** The slice of the coordinator's context the lifecycle runs on. */
export interface LifecycleDeps {
  readonly catalogue: Catalogue;
  readonly directory: NodeDirectory;
  readonly nodes: NodePool;
  readonly placement: Placement;
  readonly access: AccessTracker;
  readonly queues: LifecycleQueues;
  readonly scheduler: Scheduler;
  readonly log: Logger;
}

/**
 * The lifecycle's processes inside a coordinator: a BullMQ worker per job in jobs/index.ts, and the
 * reconciler as a job scheduler (every coordinator upserts it; BullMQ runs each tick once). The
 * upsert is repeated every interval so that a Redis that lost everything gets its scheduler back.
 */
export class Lifecycle implements Undeleter {
  private readonly jobs: JobContext;
  private readonly workers: Worker[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly deps: LifecycleDeps,
    opts: LifecycleOptions & { chunkSize: number },
  ) {
    const { catalogue, nodes, placement, access, scheduler, log } = deps;
    // Watching starts here, at start-up: no node is lost before repairAfterMs of it.
    const outages = new NodeOutages(deps.directory, opts.repairAfterMs);
    this.jobs = {
      catalogue,
      nodes,
      outages,
      placement,
      access,
      scheduler,
      log,
      opts,
      copier: new BlobCopier(nodes, log, opts.chunkSize),
      reconciler: new Reconciler(catalogue, scheduler, opts.hotTtlMs, opts.reconcileIntervalMs, opts.replicas, log, () => outages.lost()),
    };
  }

  start(): void {
    const { connection, prefix } = this.deps.queues;
    for (const job of JOBS) {
      const w = new Worker<TransitionJob>(job.name, (j) => job.process(j.data, this.jobs), {
        connection,
        prefix,
        concurrency: job.concurrency,
      });
      w.on("error", (e) => this.deps.log.warn({ err: e, queue: job.name }, "worker error"));
      w.on("failed", (j, e) =>
        this.deps.log.warn({ queue: job.name, job: j?.id, attempts: j?.attemptsMade, err: e.message }, "job failed"),
      );
      this.workers.push(w);
    }
    // Not awaited: with Redis away, start-up (and uploads, reads, deletes) must not wait for it;
    // the interval below keeps trying, and the reconciler catches up once Redis is back.
    void this.ensureReconcileSchedule();
    this.timer = setInterval(() => void this.ensureReconcileSchedule(), this.jobs.opts.reconcileIntervalMs);
    this.timer.unref();
    // One pass now: whatever came due while no coordinator ran is queued at once.
    void reconcile.process({ versionId: "" }, this.jobs).catch(() => undefined);
  }

  undelete(bucket: string, key: string): Promise<ObjectView> {
    return undelete(this.jobs, bucket, key);
  }

  /** Stops the workers; the queues belong to the context, which closes them next. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.workers.map((w) => w.close()));
  }

  private async ensureReconcileSchedule(): Promise<void> {
    try {
      await this.deps.queues.byName.reconcile.upsertJobScheduler(
        reconcile.name,
        { every: this.jobs.opts.reconcileIntervalMs },
        {
          name: reconcile.name,
          data: { versionId: "" },
          opts: { removeOnComplete: true, removeOnFail: true },
        },
      );
    } catch (e) {
      this.deps.log.warn({ err: e }, "could not schedule the reconciler");
    }
  }
}
