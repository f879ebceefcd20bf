// The contract between the coordinator's front doors (HTTP /status and /healthz, gRPC AdminService)
// and what reports on the cluster (admin/status.ts). Kept apart from the object engine: status is
// composed from the catalogue, the node directory, the queues and the other coordinators.

import type { TransitionView } from "../lifecycle/transition-stats";

export interface NodeStatusView {
  id: string;
  kind: string;
  address: string;
  live: boolean;
  heartbeatAtMs: number;
  usedBytes: number;
}

/** The live coordinators as the answering one sees them, and its read cache. */
export interface CoordinationView {
  coordinators: { id: string; self: boolean }[];
  readCache: { enabled: boolean; rows: number };
}

export interface ClusterStatusView extends CoordinationView {
  nodes: NodeStatusView[];
  tiers: { tier: string; objects: number; bytes: number }[];
  queues: { name: string; waiting: number; delayed: number; active: number; failed: number }[];
  /** Why `queues` is empty when Redis could not be asked. */
  queuesError?: string;
  /** Demotions, trash moves and purges this coordinator made since it started, and how late. */
  transitions?: TransitionView[];
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
}
