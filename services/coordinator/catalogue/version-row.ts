import type { RowDataPacket } from "mysql2/promise";
import type { ObjectView, Tier } from "../objects/object-engine";

export type VersionState = "live" | "trash";
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

export const VERSION_COLUMNS =
  "v.version_id, v.bucket, v.object_key, v.size, v.sha256, v.etag, v.content_type, v.metadata, v.state, v.tier, " +
  "v.replicas, v.cleanup, v.created_ms, v.accessed_ms, v.deleted_ms, v.purge_ms, v.reason";

const splitIds = (s: string): string[] => (s ? s.split(",") : []);
const text = (b: Buffer | string): string => (typeof b === "string" ? b : b.toString("utf8"));

export function toVersionRow(r: RowDataPacket): VersionRow {
  return {
    versionId: r.version_id,
    bucket: text(r.bucket),
    key: text(r.object_key),
    size: Number(r.size),
    sha256: r.sha256,
    etag: r.etag,
    contentType: r.content_type,
    metadata: r.metadata ? JSON.parse(r.metadata) : {},
    state: r.state,
    tier: r.tier,
    replicas: splitIds(r.replicas),
    cleanup: splitIds(r.cleanup),
    createdMs: Number(r.created_ms),
    accessedMs: Number(r.accessed_ms),
    deletedMs: r.deleted_ms === null ? null : Number(r.deleted_ms),
    purgeMs: r.purge_ms === null ? null : Number(r.purge_ms),
    reason: r.reason,
  };
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
