import type { Logger } from "../../../common/logger";
import type { RequestId } from "../../../common/request-context";
import type { AccessTracker } from "../../catalogue/access-tracker";
import type { Catalogue } from "../../catalogue/catalogue";
import type { NodeOutages } from "../../cluster/node-outages";
import type { NodePool } from "../../cluster/node-pool";
import type { Placement } from "../../placement/placement";
import type { BlobCopier } from "../../replicas/blob-copier";
import type { VersionRow } from "../../model/version-row";
import type { CleanupBacklog } from "./cleanup-backlog";
import type { RepairThrottle } from "./repair-throttle";

/** A job's data: the version it moves (empty for the reconciler). */
export interface TransitionJob {
  versionId: string;
  /** The client request that caused it (a cold read's promotion, a read's repair…), if one did. */
  requestId?: string;
}

export interface LifecycleOptions {
  hotTtlMs: number;
  /** A replica on a storage node this coordinator has seen down this long counts as lost. */
  repairAfterMs: number;
  /** MINIS3_REPAIR_RATE, bytes per second cluster-wide (0: unthrottled). */
  repairRate: number;
  replicas: number;
  writeQuorum: number;
  reconcileIntervalMs: number;
}

/**
 * Queues jobs by name. A port, not the Scheduler class: the registry (jobs/index.ts) imports every
 * job file and the queue names derive from it, so a job file importing the Scheduler would close a
 * cycle. Job files name queues through the job objects (`purge.name`), not string literals.
 */
export interface JobScheduler {
  /** `requestId`: the request that caused the job, which its run names (the job's data keeps it). */
  add(queue: string, versionId: string, atMs?: number, dueKey?: number, requestId?: RequestId): void;
  /** Jobs that ran out of retries before finishedBeforeMs go round again. */
  retryFailed(finishedBeforeMs: number): Promise<void>;
}

/** What every job may use; Lifecycle builds it once from the coordinator's context. */
export interface JobContext {
  readonly catalogue: Catalogue;
  readonly nodes: NodePool;
  /** Which storage nodes this coordinator has seen down for repairAfterMs (repair's "lost"). */
  readonly outages: NodeOutages;
  readonly placement: Placement;
  readonly copier: Pick<BlobCopier, "copy" | "remove">;
  /** MINIS3_REPAIR_RATE: paces the copies repair and rehome make. */
  readonly throttle: RepairThrottle;
  readonly access: AccessTracker;
  readonly scheduler: JobScheduler;
  /** The reconciler (a port for the same reason as JobScheduler: it queues through the Scheduler). */
  readonly reconciler: { run(): Promise<Record<string, number>> };
  readonly opts: LifecycleOptions;
  readonly log: Logger;
  /**
   * Where a transition's old copies are deleted once its move committed. Set in the due-row
   * poller's context: the move returns at its commit and the deletes follow (bounded); elsewhere
   * the job waits for them.
   */
  readonly cleanupBacklog?: CleanupBacklog;
  /** The request that caused this work (a delete, an overwrite, a cold read…), if one did. */
  readonly requestId?: RequestId;
}

/**
 * `ctx` for work request `requestId` caused: its log lines, its copies' and deletes' node ops, and
 * the jobs it queues name the request (passed explicitly: request-context.ts). A job file needs
 * no change for it; `ctx` itself when no request caused the work.
 */
export function forRequest(ctx: JobContext, requestId: RequestId): JobContext {
  if (requestId === undefined || requestId === ctx.requestId) return ctx;
  // Built on the context no request caused: a context of another request would name its own.
  return new RequestJobContext(ctx instanceof RequestJobContext ? ctx.base : ctx, requestId);
}

/**
 * A class, not `{ ...ctx, requestId, get log() {…}, … }`: the due-row poller makes one per move (each
 * names the request that trashed its version), and that spread-then-add literal with a getter took
 * 3.1-3.4 µs a call in this V8 (Node 20) against 0.01-0.13 for the class (2026-12-05, bench/README.md
 * "An overwrite's trash move, measured by leaving it out"); see ARCHITECTURE.md "Performance".
 */
class RequestJobContext implements JobContext {
  readonly catalogue: Catalogue;
  readonly nodes: NodePool;
  readonly outages: NodeOutages;
  readonly placement: Placement;
  readonly copier: JobContext["copier"];
  readonly throttle: RepairThrottle;
  readonly access: AccessTracker;
  readonly scheduler: JobScheduler;
  readonly reconciler: JobContext["reconciler"];
  readonly opts: LifecycleOptions;
  readonly cleanupBacklog?: CleanupBacklog;
  private logger?: Logger;

  constructor(
    readonly base: JobContext,
    readonly requestId: string,
  ) {
    this.catalogue = base.catalogue;
    this.nodes = base.nodes;
    this.outages = base.outages;
    this.placement = base.placement;
    this.throttle = base.throttle;
    this.access = base.access;
    this.reconciler = base.reconciler;
    this.opts = base.opts;
    this.cleanupBacklog = base.cleanupBacklog;
    const { copier, scheduler } = base;
    this.copier = {
      copy: (v, sources, targets, quorum, attributes) => copier.copy(v, sources, targets, quorum, attributes, requestId),
      // a job's deletes name the request that caused it, whatever the caller passed
      remove: (versionId, nodeIds, _requestId, stillHeld) => copier.remove(versionId, nodeIds, requestId, stillHeld),
    };
    this.scheduler = {
      add: (queue, versionId, atMs, dueKey) => scheduler.add(queue, versionId, atMs, dueKey, requestId),
      retryFailed: (finishedBeforeMs) => scheduler.retryFailed(finishedBeforeMs),
    };
  }

  /** Made at the first line written: a pino child costs 7-8 µs (measured here), and at warn a move writes none. */
  get log(): Logger {
    return (this.logger ??= this.base.log.child({ requestId: this.requestId }));
  }
}

/**
 * One kind of lifecycle job: a BullMQ queue and the worker that runs it. Adding one is a file in
 * jobs/ and a line in jobs/index.ts.
 */
export interface LifecycleJob<N extends string = string> {
  /** Queue name, and the prefix of its job ids. */
  readonly name: N;
  /** Jobs of this kind one coordinator runs at once. */
  readonly concurrency: number;
  process(data: TransitionJob, ctx: JobContext): Promise<string | Record<string, number>>;
}

/**
 * A job the due-row poller runs on the row its page read: a re-read per move was one more
 * catalogue batch in each move's path. A row changed since the page was read loses its
 * conditional commit (on the generation), as a re-read row changed since would.
 */
export interface RowJob<N extends string = string> extends LifecycleJob<N> {
  fromRow(v: VersionRow | null, ctx: JobContext): Promise<string>;
}

/** A RowJob whose queued runs (by version id) read the row, then do what the poller does with one. */
export function rowJob<N extends string>(name: N, concurrency: number, fromRow: RowJob<N>["fromRow"]): RowJob<N> {
  return { name, concurrency, fromRow, process: async ({ versionId }, ctx) => fromRow(await ctx.catalogue.version(versionId), ctx) };
}
