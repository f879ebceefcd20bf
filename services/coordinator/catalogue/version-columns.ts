import type { RowDataPacket } from "mysql2/promise";
import type { VersionRow } from "../model/version-row";
import { listedIds, splitIds } from "./id-lists-sql";

// How a `versions` row is read: the columns every version query selects, and their mapping.

export const VERSION_COLUMNS =
  "v.version_id, v.bucket, v.object_key, v.size, v.sha256, v.etag, v.content_type, v.metadata, v.state, v.tier, " +
  "v.replicas, v.cleanup, v.created_ms, v.accessed_ms, v.deleted_ms, v.purge_ms, v.reason, v.gen, v.request_id";

const text = (b: Buffer | string): string => (typeof b === "string" ? b : b.toString("utf8"));

export function toVersionRow(r: RowDataPacket): VersionRow {
  const replicas = listedIds(r.replicas);
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
    replicas: replicas.ids,
    cleanup: splitIds(r.cleanup),
    createdMs: Number(r.created_ms),
    accessedMs: Number(r.accessed_ms),
    deletedMs: r.deleted_ms === null ? null : Number(r.deleted_ms),
    purgeMs: r.purge_ms === null ? null : Number(r.purge_ms),
    reason: r.reason,
    gen: Number(r.gen),
    requestId: r.request_id,
    ...(replicas.repeated ? { listedTwice: true } : {}),
  };
}
