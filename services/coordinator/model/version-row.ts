/** The tiers a client sees (the trash is not one). Here rather than in object-view.ts, which imports this file. */
export type Tier = "hot" | "cold";
/** `purging`: a purge has begun deleting the bytes; nothing may restore it any more (review finding 13). */
export type VersionState = "live" | "trash" | "purging";
/** Where a version's bytes are: a client-visible tier, or the trash node. */
export type BytesTier = Tier | "trash";

/** One row of `versions`, as the coordinator works with it. */
export interface VersionRow {
  versionId: string;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  state: VersionState;
  tier: BytesTier;
  replicas: string[];
  /** The stored list names a node twice (a large upload before 2026-12-07): `replicas` has each once, and repair writes it back so. */
  listedTwice?: true;
  cleanup: string[];
  createdMs: number;
  accessedMs: number;
  deletedMs: number | null;
  purgeMs: number | null;
  reason: "deleted" | "overwritten" | null;
  /**
   * Generation: every change of state, tier, replicas or pending copies adds one. A job that read
   * the row commits only if it is unchanged, so an undelete and a re-delete in between cannot pass
   * for "nothing happened" (review finding 14).
   */
  gen: number;
  /**
   * The request that sent it toward the trash (its delete, the overwrite or undelete that replaced
   * it): its trash move and purge run under that id. Null while live, or when no request did.
   */
  requestId: string | null;
}
