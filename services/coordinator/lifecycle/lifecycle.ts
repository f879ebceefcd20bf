import { Worker } from "bullmq";
import { randomBytes } from "node:crypto";
import type { Logger } from "../../common/logger";
import type { RequestId } from "../../common/request-context";
import type { AccessTracker } from "../catalogue/access-tracker";
import type { Catalogue } from "../catalogue/catalogue";
import type { NodeDirectory } from "../cluster/node-directory";
import { NodeOutages } from "../cluster/node-outages";
import type { NodePool } from "../cluster/node-pool";
import type { NewVersion } from "../catalogue/catalogue";
import type { ObjectView } from "../model/object-view";
import type { VersionRow } from "../model/version-row";
import type { ObjectEvents, Undeleter } from "../objects/object-events";
import type { Placement } from "../placement/placement";
import { BlobCopier } from "../replicas/blob-copier";
import type { BodyCache } from "../replicas/body-cache";
import { DuePoller, type Peers } from "./due-poller";
import { dueTransitions } from "./due-transitions";
import { JOBS } from "./jobs";
import { forRequest, type JobContext, type LifecycleOptions, type TransitionJob } from "./jobs/job";
import { cleanup } from "./jobs/cleanup";
import { reconcile } from "./jobs/reconcile";
import { rehome } from "./jobs/rehome";
import { RepairThrottle } from "./jobs/repair-throttle";
import { RepairBacklogRead } from "./rehome/repair-backlog";
import { Rehomer } from "./rehome/rehomer";
import type { LifecycleQueues } from "./queues";
import { Reconciler } from "./reconciler";
import type { QueueStatus, Scheduler } from "./scheduler";
import type { TransitionView } from "./transition-stats";
import type { RehomeStatusView, RepairStatusView } from "./rehome/repair-views";
import { Scrubber } from "./scrub/scrubber";
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
  /** Who else runs the lifecycle: the oldest live coordinator runs the due-row poller, rehome passes are shared out. */
  readonly presence: Peers;
  readonly log: Logger;
  /** Small versions' bytes the copies take without a node read (the engine's cache, shared). */
  readonly bodies?: BodyCache;
}

/** MINIS3_SCRUB_RATE (0: off) and MINIS3_ORPHAN_GRACE. */
export interface ScrubSettings {
  scrubRate: number;
  orphanGraceMs: number;
}

/**
 * The lifecycle's processes inside a coordinator: the due-row poller, which finds demotions, trash
 * moves and purges in the catalogue as they come due and runs them (on the group's leader only,
 * due-poller.ts); a BullMQ worker per job in
 * jobs/index.ts for the rest (promotions, repairs, cleanups; a demotion a read put off); and the
 * reconciler as a job scheduler (every coordinator upserts it; BullMQ runs each tick once). The
 * upsert is repeated every interval so that a Redis that lost everything gets its scheduler back.
 *
 * It also hears the object engine's events (ObjectEvents): a delete or overwrite wakes the trash
 * poller; a cold read or a short replica list queues a job.
 */
export class Lifecycle implements Undeleter, ObjectEvents {
  private readonly jobs: JobContext;
  private readonly poller: DuePoller;
  private readonly workers: Worker[] = [];
  private timer?: NodeJS.Timeout;
  private readonly scrubber?: Scrubber;
  private readonly rehomer: Rehomer;
  /** The repair backlog: /status is asked often, and it is a table scan. */
  private readonly backlog: RepairBacklogRead;

  constructor(
    private readonly deps: LifecycleDeps,
    opts: LifecycleOptions & ScrubSettings & { chunkSize: number; trashTtlMs: number },
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
      copier: new BlobCopier(nodes, log, opts.chunkSize, deps.bodies, (id, strays, remove) => catalogue.cleanCopies(id, strays, remove)),
      throttle: new RepairThrottle(opts.repairRate, () => 1 + deps.presence.others().length),
      reconciler: new Reconciler(catalogue, scheduler, opts.replicas, log, () => outages.toEmpty()),
    };
    this.backlog = new RepairBacklogRead(catalogue.rehome, () => outages.lost(), opts.replicas);
    this.rehomer = new Rehomer({
      queries: catalogue.rehome,
      placement,
      isLive: (id) => nodes.isLive(id),
      peers: deps.presence,
      move: (versionId, signal) => rehome(this.jobs, versionId, signal),
      directory: deps.directory,
      log,
    });
    this.poller = new DuePoller(dueTransitions(this.jobs, opts.trashTtlMs), catalogue.lifecycle, this.jobs, deps.presence, log);
    // A node back (heartbeating again, or reached by a probe): what waited for it moves now.
    deps.directory.on("returned", () => this.poller.nodesReturned());
    if (opts.scrubRate > 0) {
      const live = () => deps.directory.all().filter((n) => n.live && n.state !== "removed");
      this.scrubber = new Scrubber(
        {
          catalogue,
          nodes,
          verify: (node, blob, size) => nodes.client(node).checkBlob(blob, size),
          sweptNodes: () => live().map((n) => n.id),
          sweptClient: (node) => nodes.client(node),
          repair: (versionId) => this.underReplicated(versionId),
          log,
        },
        {
          bytesPerSecond: opts.scrubRate,
          orphanGraceMs: opts.orphanGraceMs,
          replicas: opts.replicas,
          // Unique per process: two coordinators that share a host:port id must not share the lease.
          owner: `${deps.presence.id}#${randomBytes(4).toString("hex")}`,
        },
      );
    }
  }

  start(): void {
    const { connection, prefix } = this.deps.queues;
    for (const job of JOBS) {
      // A job a request caused (its id in the job's data): its log lines and node calls name it.
      const w = new Worker<TransitionJob>(job.name, (j) => job.process(j.data, forRequest(this.jobs, j.data.requestId)), {
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
    this.poller.start();
    this.scrubber?.start();
    this.rehomer.start();
  }

  committed(_v: NewVersion, replaced: string[]): void {
    if (replaced.length) this.poller.wake("trash");
  }

  deleted(): void {
    this.poller.wake("trash");
  }

  coldRead(v: VersionRow, requestId: RequestId): void {
    this.deps.scheduler.add("promote", v.versionId, undefined, undefined, requestId);
  }

  underReplicated(versionId: string, requestId?: RequestId): void {
    this.deps.scheduler.add("repair", versionId, undefined, undefined, requestId);
  }

  /**
   * Every queue's depth, with the poller's work counted in: versions it is moving are `active`,
   * those backing off after a failure `delayed`, and the old copies its moves left to delete are
   * the cleanup queue's `active`. So /status shows what is under way either way.
   */
  async queueStatus(): Promise<QueueStatus[]> {
    return (await this.deps.scheduler.queueStatus()).map((q) => ({
      ...q,
      active: q.active + this.poller.inFlight(q.name) + (q.name === cleanup.name ? this.poller.cleanupsPending() : 0),
      delayed: q.delayed + this.poller.backingOff(q.name),
    }));
  }

  /** The poller's moves since start-up: counts and lateness per transition. */
  transitions(): TransitionView[] {
    return this.poller.status();
  }

  /** What is left to repair, cluster-wide, and how long it takes at MINIS3_REPAIR_RATE (the backlog: RepairBacklogRead). */
  async repairStatus(): Promise<RepairStatusView> {
    const { opts, throttle } = this.jobs;
    const { lostNodes, backlog: b } = await this.backlog.get();
    const copied = throttle.measured().bytesPerSecond;
    const rate = opts.repairRate > 0 ? opts.repairRate : copied;
    return {
      rateBytesPerSecond: opts.repairRate,
      copiedBytesPerSecond: copied,
      lostNodes,
      versionsLeft: b.versions,
      bytesLeft: b.bytes,
      underReplicated: b.underReplicated,
      etaSeconds: b.versions === 0 ? 0 : rate > 0 ? Math.ceil(b.pacedBytes / rate) : null,
    };
  }

  /** This coordinator's rehome passes: versions away from home and under R as of the last one. */
  rehomeStatus(): RehomeStatusView {
    const s = this.rehomer.status();
    return { ...s, awayFromHome: s.lastPass?.awayFromHome ?? null, underReplicated: s.lastPass?.underReplicated ?? null };
  }

  undelete(bucket: string, key: string, requestId: RequestId, onlyVersion?: string): Promise<ObjectView> {
    return undelete(forRequest(this.jobs, requestId), bucket, key, onlyVersion);
  }

  /** Stops the workers; the queues belong to the context, which closes them next. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.rehomer.stop();
    await this.scrubber?.stop();
    await this.poller.stop();
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
