import { silentLog } from "../../../../rpc/testing/test-helpers";
import type { Catalogue } from "../../../catalogue/catalogue";
import { BlobCopier } from "../../../replicas/blob-copier";
import type { InProcessNodes } from "../../../replicas/testing/in-process-nodes";
import type { JobContext } from "../job";
import { RepairThrottle } from "../repair-throttle";

/** The cluster a job's test runs it in: where the key's copies belong, and the replication settings. */
export interface JobTestCluster {
  /** The key's home nodes, best first (placement.targets). */
  targets: string[];
  replicas: number;
  writeQuorum: number;
  /** Collects `queue/versionId` of every job the run queues; none kept when absent. */
  queued?: string[];
}

/**
 * A JobContext over node servers in this process and a real catalogue, for the lifecycle jobs'
 * tests: the real copier, its late copies deleted under the row lock as lifecycle.ts wires it, no
 * node lost, repair copies unpaced, and a scheduler that only records what is queued.
 */
export function inProcessJobContext(nodes: InProcessNodes, catalogue: Catalogue, chunkBytes: number, cluster: JobTestCluster): JobContext {
  const { targets, replicas, writeQuorum, queued } = cluster;
  return {
    catalogue,
    nodes: nodes.pool,
    copier: new BlobCopier(nodes.pool, silentLog, chunkBytes, undefined, (id, strays, remove) => catalogue.cleanCopies(id, strays, remove)),
    outages: { settlesInMs: () => 0, lost: () => [] },
    throttle: new RepairThrottle(0, () => 1),
    placement: { targets: () => targets },
    scheduler: {
      add: (queue: string, versionId: string) => void queued?.push(`${queue}/${versionId}`),
      retryFailed: async () => undefined,
    },
    opts: { hotTtlMs: 60_000, repairAfterMs: 60_000, repairRate: 0, replicas, writeQuorum, reconcileIntervalMs: 1000 },
    log: silentLog,
  } as unknown as JobContext;
}
