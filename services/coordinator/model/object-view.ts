import type { Tier, VersionRow } from "./version-row";

// What the client APIs show of a version (HTTP JSON and gRPC messages are mapped from these).

export type { Tier };

export interface ObjectView {
  bucket: string;
  key: string;
  versionId: string;
  size: number;
  sha256: string; // hex
  etag: string; // hex md5
  contentType: string;
  tier: Tier;
  createdAtMs: number;
  lastAccessedAtMs: number;
  replicas: string[]; // node ids holding the bytes in `tier`
  metadata: Record<string, string>;
  /**
   * What the lifecycle does to this version next and when: set by the single-object reads (head,
   * headVersion), absent elsewhere (listings, uploads); null when nothing is scheduled (a live
   * cold version moves only when it is read).
   */
  next?: NextTransition | null;
  /** Why a version read by id is in the trash (headVersion); absent on live versions and elsewhere. */
  trashed?: "deleted" | "overwritten";
}

/** The lifecycle's next move of a version: demotion to cold, or the purge of a trashed version. */
export interface NextTransition {
  transition: "demote" | "purge";
  /** Epoch ms; in the past when the move is overdue (the poller has not reached it yet). */
  dueAtMs: number;
}

/**
 * When the due-row poller (lifecycle/due-transitions.ts) will take this row, from the row's own
 * columns: a live hot version is demoted at its last access + the hot TTL (`lastSeenMs`: a read
 * this coordinator has not written yet, which the demote job honours too), a trashed one purged at
 * its purge time (written on the catalogue's clock at delete time: delete + trash TTL). The move of
 * a trashed version's bytes to the delete node is not shown: it is due at once and takes moments.
 */
export function nextTransition(v: VersionRow, hotTtlMs: number, lastSeenMs = 0): NextTransition | null {
  if (v.state === "live") {
    return v.tier === "hot" ? { transition: "demote", dueAtMs: Math.max(v.accessedMs, lastSeenMs) + hotTtlMs } : null;
  }
  return v.purgeMs === null ? null : { transition: "purge", dueAtMs: v.purgeMs };
}

export interface TrashEntryView {
  object: ObjectView;
  deletedAtMs: number;
  purgeAtMs: number;
  reason: "deleted" | "overwritten";
}

export function toObjectView(v: VersionRow): ObjectView {
  return {
    bucket: v.bucket,
    key: v.key,
    versionId: v.versionId,
    size: v.size,
    sha256: v.sha256,
    etag: v.etag,
    contentType: v.contentType,
    tier: v.tier === "cold" ? "cold" : "hot",
    createdAtMs: v.createdMs,
    lastAccessedAtMs: v.accessedMs,
    replicas: v.replicas,
    metadata: v.metadata,
  };
}
