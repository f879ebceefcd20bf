/** The tiers a client sees (the trash is not one). Here rather than in object-view.ts, which imports this file. */
export type Tier = "hot" | "cold";
export type VersionState = "live" | "trash";
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
  cleanup: string[];
  createdMs: number;
  accessedMs: number;
  deletedMs: number | null;
  purgeMs: number | null;
  reason: "deleted" | "overwritten" | null;
}
