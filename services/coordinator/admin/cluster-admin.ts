// The contract between the coordinator's front doors (HTTP /status and /healthz, gRPC AdminService)
// and what reports on the cluster (admin/status.ts). Kept apart from the object engine: status is
// composed from the catalogue, the node directory, the queues and the other coordinators.

import type { RehomeStatusView, RepairStatusView } from "../lifecycle/rehome/repair-views";
import type { TransitionView } from "../lifecycle/transition-stats";

export interface NodeStatusView {
  id: string;
  kind: string;
  address: string;
  live: boolean;
  /** up | stopped | removed (retired for good) */
  state: string;
  heartbeatAtMs: number;
  usedBytes: number;
  /** Damaged records its segment store stepped over (GetInfo); absent when the node is down or did not answer in time. */
  unreadableRecords?: number;
}

/** The live coordinators as the answering one sees them, and its read cache. */
export interface CoordinationView {
  /** pid: the coordinator's process id on its host (from its row; undefined for a row written before pids were kept). */
  coordinators: { id: string; self: boolean; pid?: number }[];
  readCache: { enabled: boolean; rows: number };
}

/**
 * The scrubber, cluster-wide (its row in the catalogue; times on the catalogue's clock). `owner` is
 * the coordinator process that holds the lease, until `leaseUntilMs`; `progress` is this pass's
 * versions over all versions now in the catalogue.
 */
export interface ScrubStatusView {
  rateBytesPerSecond: number;
  owner: string;
  leaseUntilMs: number;
  pass: { startedAtMs: number | null; versionsChecked: number; bytesChecked: number; progress: number };
  passes: number;
  lastPassEndedAtMs: number | null;
  totals: {
    versionsChecked: number;
    bytesChecked: number;
    corrupt: number;
    missing: number;
    unreachable: number;
    repairsQueued: number;
    orphansDeleted: number;
  };
}

/** The scrub view of a cluster with no scrubber (MINIS3_SCRUB_RATE=0 and nothing found yet), as test doubles report it. */
export const NO_SCRUB: ScrubStatusView = {
  rateBytesPerSecond: 0,
  owner: "",
  leaseUntilMs: 0,
  pass: { startedAtMs: null, versionsChecked: 0, bytesChecked: 0, progress: 0 },
  passes: 0,
  lastPassEndedAtMs: null,
  totals: { versionsChecked: 0, bytesChecked: 0, corrupt: 0, missing: 0, unreachable: 0, repairsQueued: 0, orphansDeleted: 0 },
};

export interface ClusterStatusView extends CoordinationView {
  nodes: NodeStatusView[];
  tiers: { tier: string; objects: number; bytes: number }[];
  queues: { name: string; waiting: number; delayed: number; active: number; failed: number }[];
  /** Why `queues` is empty when Redis could not be asked. */
  queuesError?: string;
  /** Demotions, trash moves and purges this coordinator made since it started, and how late. */
  transitions?: TransitionView[];
  scrub: ScrubStatusView;
  /** This coordinator's repair and rehome, if it runs the lifecycle. */
  repair?: RepairStatusView;
  rehome?: RehomeStatusView;
}

export interface HealthView {
  ok: boolean;
  liveStorageNodes: number;
  writeQuorum: number;
}

export interface ClusterAdmin {
  status(): Promise<ClusterStatusView>;
  /** True when the catalogue answers and enough storage nodes are live to take a write. */
  health(): Promise<HealthView>;
  /**
   * Retires a node that is down for good (POST /nodes/retire?id=): its copies count as gone, so
   * repair replaces them and cleanups and purges stop waiting for it. Refused for a live node.
   */
  retireNode(id: string): Promise<NodeStatusView>;
}
