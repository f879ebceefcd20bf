import type { Logger } from "../../../common/logger";
import type { AccessTracker } from "../../catalogue/access-tracker";
import type { Catalogue } from "../../catalogue/catalogue";
import type { NodeOutages } from "../../cluster/node-outages";
import type { NodePool } from "../../cluster/node-pool";
import type { Placement } from "../../placement/placement";
import type { BlobCopier } from "../../replicas/blob-copier";
import type { RepairThrottle } from "./repair-throttle";

/** A job's data: the version it moves (empty for the reconciler). */
export interface TransitionJob {
  versionId: string;
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
  add(queue: string, versionId: string, atMs?: number, dueKey?: number): void;
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
  readonly copier: BlobCopier;
  /** MINIS3_REPAIR_RATE: paces the copies repair and rehome make. */
  readonly throttle: RepairThrottle;
  readonly access: AccessTracker;
  readonly scheduler: JobScheduler;
  /** The reconciler (a port for the same reason as JobScheduler: it queues through the Scheduler). */
  readonly reconciler: { run(): Promise<Record<string, number>> };
  readonly opts: LifecycleOptions;
  readonly log: Logger;
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
