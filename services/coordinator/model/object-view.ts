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
