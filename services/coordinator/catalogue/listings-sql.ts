import type { Pool, RowDataPacket } from "mysql2/promise";
import type { VersionRow } from "../model/version-row";
import { toVersionRow, VERSION_COLUMNS } from "./version-columns";
import { NOW_MS } from "./versions-sql";

// SQL for the catalogue's listings and totals: read-only, each one statement, nothing batched.

/**
 * Visible objects under a prefix, in key (byte) order, after `afterKey` (bytes: a delimited listing
 * seeks past a common prefix with prefix + 0xFF, which no UTF-8 string can say).
 */
export async function selectListed(
  pool: Pool,
  bucket: string,
  prefix: string,
  afterKey: string | Buffer,
  limit: number,
): Promise<VersionRow[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
      WHERE o.bucket = ? AND o.object_key LIKE ? AND o.object_key > ?
      ORDER BY o.object_key LIMIT ?`,
    [bucket, likePrefix(prefix), afterKey, limit],
  );
  return rows.map(toVersionRow);
}

/** Restorable versions under a prefix, in version id order after `afterVersion`. */
export async function selectTrashListed(
  pool: Pool,
  bucket: string,
  prefix: string,
  nowMs: number,
  afterVersion: string,
  limit: number,
): Promise<VersionRow[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT ${VERSION_COLUMNS} FROM versions v
      WHERE v.state = 'trash' AND v.bucket = ? AND v.object_key LIKE ? AND v.purge_ms > ? AND v.version_id > ?
      ORDER BY v.version_id LIMIT ?`,
    [bucket, likePrefix(prefix), nowMs, afterVersion, limit],
  );
  return rows.map(toVersionRow);
}

/**
 * The most recently deleted restorable version of a key: its purge time ahead on MariaDB's clock, as
 * the restore checks it, not on a coordinator's reading of that clock (which can run ahead of it and
 * answered "nothing to undelete" for a version still restorable).
 */
export async function selectLatestTrash(pool: Pool, bucket: string, key: string): Promise<VersionRow | null> {
  const [rows] = await pool.execute<RowDataPacket[]>(
    `SELECT ${VERSION_COLUMNS} FROM versions v
      WHERE v.bucket = ? AND v.object_key = ? AND v.state = 'trash' AND v.purge_ms > ${NOW_MS}
      ORDER BY v.deleted_ms DESC, v.version_id DESC LIMIT 1`,
    [bucket, key],
  );
  return rows.length ? toVersionRow(rows[0]) : null;
}

/**
 * Versions under a prefix that a versioned listing shows: live ones and restorable trash, by key,
 * newest first within a key (version ids sort by creation time), after (afterKey, afterVersion).
 */
export interface VersionsPage {
  prefix: string;
  /** The catalogue's time: trash due for purge by then is not listed. */
  nowMs: number;
  /** Bytes (a Buffer) for a seek past a common prefix, as `list`'s afterKey. */
  afterKey: string | Buffer;
  /** Versions of `afterKey` older than this one are still to come ("": none of them). */
  afterVersion: string;
  limit: number;
}

export async function selectVersionsListed(pool: Pool, bucket: string, q: VersionsPage): Promise<VersionRow[]> {
  const { prefix, nowMs, afterKey, afterVersion, limit } = q;
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT ${VERSION_COLUMNS} FROM versions v
      WHERE v.bucket = ? AND v.object_key LIKE ?
        AND (v.state = 'live' OR (v.state = 'trash' AND v.purge_ms > ?))
        AND (v.object_key > ? OR (v.object_key = ? AND v.version_id < ?))
      ORDER BY v.object_key, v.version_id DESC LIMIT ?`,
    [bucket, likePrefix(prefix), nowMs, afterKey, afterKey, afterVersion, limit],
  );
  return rows.map(toVersionRow);
}

/** One tier's live versions (or the trash's versions) and their bytes. */
export interface TierTotal {
  tier: string;
  objects: number;
  bytes: number;
}

/** Object count and bytes per tier (live versions), and the trash. */
export async function selectTierTotals(pool: Pool): Promise<TierTotal[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT IF(state = 'live', tier, 'trash') AS t, COUNT(*) AS n, COALESCE(SUM(size), 0) AS b
       FROM versions GROUP BY t`,
  );
  const by = new Map(rows.map((r) => [r.t as string, { objects: Number(r.n), bytes: Number(r.b) }]));
  return ["hot", "cold", "trash"].map((tier) => ({ tier, ...(by.get(tier) ?? { objects: 0, bytes: 0 }) }));
}

/** A LIKE pattern matching keys that start with prefix (%, _ and \ escaped). */
export function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => "\\" + c) + "%";
}
