// The contract between the coordinator's front doors (HTTP /status and /healthz, gRPC AdminService)
// and what reports on the cluster (admin/status.ts). Kept apart from the object engine: status is
// composed from the catalogue, the node directory, the queues and the other coordinators.

import type { RehomeStatusView, RepairStatusView } from "../lifecycle/rehome/repair-views";
import type { CoordinatorRow } from "../cluster/coordinator-roster";
import type { CacheLease } from "../cluster/invalidation-bus";
import type { MemberState } from "../cluster/node-directory";
import type { TransitionView } from "../lifecycle/transition-stats";
import type { UpcomingTransition } from "../model/upcoming-transition";

export type { UpcomingTransition };

/** The most upcoming transitions one call lists (GET /status/upcoming?limit=), and how many by default. */
export const MAX_UPCOMING = 500;
export const DEFAULT_UPCOMING = 20;

export interface NodeStatusView {
  id: string;
  kind: string;
  address: string;
  zone: string;
  /** Where it serves Prometheus metrics (on its address's host); null when off. */
  metricsPort: number | null;
  /**
   * up | down (silent for MINIS3_NODE_DOWN_AFTER, or stopped) | suspected (heartbeats, but the
   * answering coordinator cannot reach it) | draining (being removed) | removed (gone for good)
   */
  state: MemberState;
  /** Routed to by the answering coordinator (heartbeats, and reachable from it). */
  live: boolean;
  heartbeatAtMs: number;
  /** How old its last heartbeat was, by the catalogue's clock, at the last directory refresh. */
  silentForMs: number;
  /** Blobs and bytes it holds, and its free disk, as its last heartbeat reported them. */
  blobCount: number;
  usedBytes: number;
  /** Null when the node cannot know: a backup node whose MariaDB runs on another host. */
  freeBytes: number | null;
  /** While draining: versions that still list it (its removal's progress; 0 = about to be removed). */
  versionsLeft?: number;
  /** Damaged records its segment store stepped over (GetInfo); absent when the node is down or did not answer in time. */
  unreadableRecords?: number;
}

/** Every coordinator in the catalogue as the answering one sees them, and its read cache. */
export interface CoordinationView {
  coordinators: CoordinatorRow[];
  /** waitingFor: while it serves nothing (and is configured), the leases it waits for (InvalidationBus.leasesMissing). */
  readCache: { enabled: boolean; rows: number; waitingFor?: CacheLease[] };
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

/** One readiness check: whether it passed, how long it took, and why not. */
export interface ReadinessCheck {
  ok: boolean;
  ms?: number;
  error?: string;
  liveStorageNodes?: number;
  writeQuorum?: number;
}

/** GET /readyz and the gRPC health service: `failed` names the checks that did not pass. */
export interface ReadinessView {
  ready: boolean;
  failed: string[];
  checks: { database: ReadinessCheck; redis: ReadinessCheck; writeQuorum: ReadinessCheck };
}

export interface ClusterAdmin {
  status(): Promise<ClusterStatusView>;
  /**
   * `/status`'s `transitions` alone (GET /status/transitions): this process's counters, no catalogue
   * scan, Redis or node call, so it can be watched often (the bench polls it twice a second; a
   * whole /status at 100,000 versions cost MariaDB a table scan each time).
   */
  transitions(): TransitionView[];
  /**
   * The next `limit` (at most MAX_UPCOMING) lifecycle transitions cluster-wide, soonest first:
   * demotions, trash moves, purges (GET /status/upcoming). One indexed catalogue query.
   */
  upcoming(limit: number): Promise<UpcomingTransition[]>;
  /** True when the catalogue answers and enough storage nodes are live to take a write. */
  health(): Promise<HealthView>;
  /** Whether this coordinator can serve: database, Redis and a write quorum reachable (admin/readiness.ts). */
  readiness(): Promise<ReadinessView>;
  /**
   * Retires a node that is down for good (POST /nodes/retire?id=): its copies count as gone, so
   * repair replaces them and cleanups and purges stop waiting for it. Refused for a live node.
   */
  retireNode(id: string): Promise<NodeStatusView>;
  /**
   * Takes a node out for good, its copies made elsewhere first (AdminService.RemoveNode, POST
   * /admin/nodes/{id}/remove): the node answers as draining with its progress, or removed.
   * NoSuchNode for an unknown id; Conflict when fewer than R storage nodes would stay.
   */
  removeNode(id: string): Promise<NodeStatusView>;
}
