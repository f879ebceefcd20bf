import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { inTransaction } from "../../common/db/transaction";
import { splitIds } from "./id-lists-sql";
import { likePrefix } from "./listings-sql";

// SQL for multipart uploads (tables: multipart-schema.ts). Rows here name no visible object: the
// object a Complete makes is committed through the ordinary upload commit (versions-sql.ts).

export type UploadState = "open" | "completing" | "completed";

export interface UploadRow {
  uploadId: string;
  bucket: string;
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  createdMs: number;
  state: UploadState;
  stateMs: number;
  /** Set once completed: the version made, and its multipart ETag. */
  versionId: string | null;
  etag: string | null;
}

export interface PartRow {
  uploadId: string;
  partNumber: number;
  size: number;
  /** Hex md5 of the part's bytes. */
  etag: string;
  sha256: string;
  /** The blob holding the bytes, and the nodes holding its copies. */
  blobId: string;
  replicas: string[];
  createdMs: number;
}

/** A part's bytes on the nodes: what is deleted when a part is replaced, aborted or consumed. */
export type PartBlob = Pick<PartRow, "blobId" | "replicas">;

/** Answer of putPart: refused when the upload is gone or no longer open; else the part it replaced. */
export type PutPartResult = { accepted: false; state: UploadState | null } | { accepted: true; replaced: PartBlob | null };

const text = (b: Buffer | string): string => (typeof b === "string" ? b : b.toString("utf8"));

const UPLOAD_COLUMNS = "upload_id, bucket, object_key, content_type, metadata, created_ms, state, state_ms, version_id, etag";
const PART_COLUMNS = "upload_id, part_number, size, etag, sha256, blob_id, replicas, created_ms";

function toUploadRow(r: RowDataPacket): UploadRow {
  return {
    uploadId: r.upload_id,
    bucket: text(r.bucket),
    key: text(r.object_key),
    contentType: r.content_type,
    metadata: r.metadata ? JSON.parse(r.metadata) : {},
    createdMs: Number(r.created_ms),
    state: r.state,
    stateMs: Number(r.state_ms),
    versionId: r.version_id,
    etag: r.etag,
  };
}

function toPartRow(r: RowDataPacket): PartRow {
  return {
    uploadId: r.upload_id,
    partNumber: Number(r.part_number),
    size: Number(r.size),
    etag: r.etag,
    sha256: r.sha256,
    blobId: r.blob_id,
    replicas: splitIds(r.replicas),
    createdMs: Number(r.created_ms),
  };
}

const toBlob = (r: RowDataPacket): PartBlob => ({ blobId: r.blob_id, replicas: splitIds(r.replicas) });

/**
 * The catalogue's multipart tables. Every change that depends on an upload's state locks the
 * upload's row first (SELECT … FOR UPDATE), so a part that arrives while a Complete or an Abort
 * runs is either in before it (and consumed or deleted by it) or refused: no part is left behind
 * unnamed or named by an upload that is gone.
 */
export class MultipartQueries {
  constructor(private readonly pool: Pool) {}

  async create(u: Pick<UploadRow, "uploadId" | "bucket" | "key" | "contentType" | "metadata" | "createdMs">): Promise<void> {
    await this.pool.execute(
      `INSERT INTO multipart_uploads (upload_id, bucket, object_key, content_type, metadata, created_ms, state, state_ms)
       VALUES (?, ?, ?, ?, ?, ?, 'open', ?)`,
      [u.uploadId, u.bucket, u.key, u.contentType, JSON.stringify(u.metadata), u.createdMs, u.createdMs],
    );
  }

  async upload(uploadId: string): Promise<UploadRow | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(`SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads WHERE upload_id = ?`, [
      uploadId,
    ]);
    return rows.length ? toUploadRow(rows[0]) : null;
  }

  /**
   * Records a part whose bytes are on its replicas, if the upload is still open; replaces the row
   * of the same part number (whose blob the caller then deletes).
   */
  putPart(p: PartRow): Promise<PutPartResult> {
    return inTransaction(this.pool, async (conn) => {
      const state = await lockedState(conn, p.uploadId);
      if (state !== "open") return { accepted: false, state };
      const [old] = await conn.query<RowDataPacket[]>(
        "SELECT blob_id, replicas FROM multipart_parts WHERE upload_id = ? AND part_number = ? FOR UPDATE",
        [p.uploadId, p.partNumber],
      );
      await conn.query(
        `INSERT INTO multipart_parts (${PART_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE size = VALUES(size), etag = VALUES(etag), sha256 = VALUES(sha256),
           blob_id = VALUES(blob_id), replicas = VALUES(replicas), created_ms = VALUES(created_ms)`,
        [p.uploadId, p.partNumber, p.size, p.etag, p.sha256, p.blobId, p.replicas.join(","), p.createdMs],
      );
      return { accepted: true, replaced: old.length ? toBlob(old[0]) : null };
    });
  }

  /** Parts in part-number order after `afterPart`, at most `limit`. */
  async parts(uploadId: string, afterPart: number, limit: number): Promise<PartRow[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT ${PART_COLUMNS} FROM multipart_parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?`,
      [uploadId, afterPart, limit],
    );
    return rows.map(toPartRow);
  }

  /**
   * Open → completing, if the upload is open, or completing since before `staleMs` (a Complete
   * whose coordinator died); answers the row as it is after (a completing or completed row that
   * was not this call's own change tells the caller what is going on).
   */
  async beginComplete(uploadId: string, nowMs: number, staleMs: number): Promise<{ began: boolean; row: UploadRow | null }> {
    const [r] = await this.pool.execute<ResultSetHeader>(
      `UPDATE multipart_uploads SET state = 'completing', state_ms = ?
        WHERE upload_id = ? AND (state = 'open' OR (state = 'completing' AND state_ms < ?))`,
      [nowMs, uploadId, staleMs],
    );
    return { began: r.affectedRows === 1, row: await this.upload(uploadId) };
  }

  /**
   * Completing → open again, after a Complete that failed before making its object: only if the
   * upload is still that Complete's (`stateMs`, the time its beginComplete marked). False when it
   * is not: taken over, aborted, or completed (by the Complete's own commit, if its answer was lost).
   * Completing → completed is the Complete's version commit itself (versions-sql.ts MultipartFence).
   */
  async reopen(uploadId: string, nowMs: number, stateMs: number): Promise<boolean> {
    const [r] = await this.pool.execute<ResultSetHeader>(
      "UPDATE multipart_uploads SET state = 'open', state_ms = ? WHERE upload_id = ? AND state = 'completing' AND state_ms = ?",
      [nowMs, uploadId, stateMs],
    );
    return r.affectedRows === 1;
  }

  /**
   * Forgets an upload that is not completed, and its parts; answers their blobs for the caller to
   * delete, null when there was no such upload (or it had completed), or "completing" while a
   * Complete runs (since `staleMs` or later): forgotten then, the upload's object would still appear
   * once that Complete committed it, after the Abort had been answered.
   */
  abort(uploadId: string, staleMs: number): Promise<PartBlob[] | null | "completing"> {
    return inTransaction(this.pool, async (conn) => {
      const [locked] = await conn.query<RowDataPacket[]>("SELECT state, state_ms FROM multipart_uploads WHERE upload_id = ? FOR UPDATE", [
        uploadId,
      ]);
      const state = locked.length ? (locked[0].state as UploadState) : null;
      if (state === null || state === "completed") return null;
      if (state === "completing" && Number(locked[0].state_ms) >= staleMs) return "completing";
      const blobs = await takeParts(conn, uploadId);
      await conn.query("DELETE FROM multipart_uploads WHERE upload_id = ?", [uploadId]);
      return blobs;
    });
  }

  /**
   * Uploads not completed in a bucket, under a prefix, in (key, upload id) order after the markers
   * (S3: with an upload-id marker, later uploads of the marker's key come first; without, keys after it).
   */
  async listUploads(bucket: string, prefix: string, keyMarker: string, uploadIdMarker: string, limit: number): Promise<UploadRow[]> {
    const after = uploadIdMarker
      ? { sql: "(object_key > ? OR (object_key = ? AND upload_id > ?))", params: [keyMarker, keyMarker, uploadIdMarker] }
      : { sql: "object_key > ?", params: [keyMarker] };
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads
        WHERE bucket = ? AND state <> 'completed' AND object_key LIKE ? AND ${after.sql}
        ORDER BY object_key, upload_id LIMIT ?`,
      [bucket, likePrefix(prefix), ...after.params, limit],
    );
    return rows.map(toUploadRow);
  }

  /** Deletes completed uploads' rows last changed before `beforeMs` (kept till then for retried Completes). */
  async forgetCompleted(beforeMs: number, limit: number): Promise<number> {
    const [r] = await this.pool.query<ResultSetHeader>("DELETE FROM multipart_uploads WHERE state = 'completed' AND state_ms < ? LIMIT ?", [
      beforeMs,
      limit,
    ]);
    return r.affectedRows;
  }
}

async function lockedState(conn: PoolConnection, uploadId: string): Promise<UploadState | null> {
  const [rows] = await conn.query<RowDataPacket[]>("SELECT state FROM multipart_uploads WHERE upload_id = ? FOR UPDATE", [uploadId]);
  return rows.length ? (rows[0].state as UploadState) : null;
}

/** Deletes an upload's part rows (its row locked by the caller) and answers their blobs. */
async function takeParts(conn: PoolConnection, uploadId: string): Promise<PartBlob[]> {
  const [rows] = await conn.query<RowDataPacket[]>("SELECT blob_id, replicas FROM multipart_parts WHERE upload_id = ? FOR UPDATE", [
    uploadId,
  ]);
  await conn.query("DELETE FROM multipart_parts WHERE upload_id = ?", [uploadId]);
  return rows.map(toBlob);
}
