// Who the nodes are: the rows of the nodes table, written by nodes (heartbeat.ts), read by coordinators.

export type NodeKind = "storage" | "backup" | "delete";

export interface NodeIdentity {
  id: string;
  kind: NodeKind;
  address: string;
  zone: string;
  /** Where it serves Prometheus metrics (MINIS3_METRICS_PORT on its host); null when off. */
  metricsPort: number | null;
}

export interface NodeStats {
  blobCount: number;
  usedBytes: number;
  /** Null when the node cannot know (a backup node whose MariaDB is on another host). */
  freeBytes: number | null;
  /** Damaged records a node's segment store stepped over (GetInfo reports it; the heartbeat does not). */
  unreadableRecords?: number;
}

export interface NodeRecord extends NodeIdentity, NodeStats {
  state: string;
  live: boolean;
  heartbeatAtMs: number;
  /** How old the last heartbeat was at the last refresh, by the database's clock. */
  silentForMs: number;
}
