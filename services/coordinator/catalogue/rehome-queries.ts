import type { Pool, RowDataPacket } from "mysql2/promise";
import type { VersionRow } from "../model/version-row";
import { splitIds } from "./id-lists-sql";

/** A live hot version as rehome walks it: where it is and where its key belongs. */
export type PlacedVersion = Pick<VersionRow, "versionId" | "bucket" | "key" | "size" | "replicas">;

/** What is left to repair: versions that need a copy made, and the bytes those copies take. */
export interface RepairBacklog {
  /** Live hot versions the scan read (what it cost). */
  scanned: number;
  versions: number;
  bytes: number;
  /** The bytes as MINIS3_REPAIR_RATE counts them: each copy at least MIN_COST_BYTES (repair-throttle.ts). */
  pacedBytes: number;
  /** Of them, versions listing fewer than R copies. */
  underReplicated: number;
}

const text = (b: Buffer | string): string => (typeof b === "string" ? b : b.toString("utf8"));
/** Copies a version lists, in SQL. */
const LISTED = "IF(replicas = '', 0, CHAR_LENGTH(replicas) - CHAR_LENGTH(REPLACE(replicas, ',', '')) + 1)";

/**
 * Rehome's and repair's reads of `versions`: a keyset page of live hot versions in primary-key order
 * (rehome walks them all, comparing each to the ring), and the repair backlog for /status.
 * Read-only; every change goes through the Catalogue.
 */
export class RehomeQueries {
  constructor(private readonly pool: Pool) {}

  /** Up to `limit` live hot versions after `afterId`, in primary-key order. */
  async hotPage(afterId: string, limit: number): Promise<PlacedVersion[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT version_id, bucket, object_key, size, replicas FROM versions
        WHERE version_id > ? AND state = 'live' AND tier = 'hot' ORDER BY version_id LIMIT ?`,
      [afterId, limit],
    );
    return rows.map((r) => ({
      versionId: r.version_id,
      bucket: text(r.bucket),
      key: text(r.object_key),
      size: Number(r.size),
      replicas: splitIds(r.replicas),
    }));
  }

  /**
   * Live hot versions short of `replicas` copies once the copies on `lost` nodes are not counted,
   * with the bytes it takes to make the missing copies. One scan of the table.
   */
  async repairBacklog(replicas: number, lost: readonly string[], minCopyBytes: number): Promise<RepairBacklog> {
    const onLost = lost.length ? lost.map(() => "(FIND_IN_SET(?, replicas) > 0)").join(" + ") : "0";
    const missing = `GREATEST(0, ? - ${LISTED} + ${onLost})`;
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS scanned, COALESCE(SUM(m > 0), 0) AS versions, COALESCE(SUM(size * m), 0) AS bytes,
          COALESCE(SUM(GREATEST(size, ?) * m), 0) AS paced, COALESCE(SUM(listed < ?), 0) AS short
        FROM (SELECT size, ${missing} AS m, ${LISTED} AS listed FROM versions WHERE state = 'live' AND tier = 'hot') t`,
      [minCopyBytes, replicas, replicas, ...lost],
    );
    const r = rows[0] ?? {};
    return {
      scanned: Number(r.scanned ?? 0),
      versions: Number(r.versions ?? 0),
      bytes: Number(r.bytes ?? 0),
      pacedBytes: Number(r.paced ?? 0),
      underReplicated: Number(r.short ?? 0),
    };
  }
}
