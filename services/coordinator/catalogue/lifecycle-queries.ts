import type { Pool, RowDataPacket } from "mysql2/promise";
import type { VersionRow } from "../model/version-row";
import { REPEATED_ID } from "./id-lists-sql";
import { toVersionRow, VERSION_COLUMNS } from "./version-columns";

/**
 * A walk through the versions one transition is due for, in the order of one index: `where` picks
 * the rows (a prefix of the index), `column` orders them (the index's next column; InnoDB appends
 * the primary key, so (column, version_id) is an index order and the keyset cursor below needs no
 * sort). Used by the lifecycle's due-row poller.
 */
export interface DueScan {
  readonly where: string;
  readonly column: "accessed_ms" | "purge_ms";
}

/** Where a walk stopped: the last row's (column, version_id). Rows after it come next. */
export interface DueCursor {
  at: number;
  versionId: string;
}

/** Only rows with this column at or below `at` (a scan's rows behind another walk's cursor). */
export interface DueBound {
  column: DueScan["column"];
  at: number;
}

export const START_CURSOR: DueCursor = { at: Number.MIN_SAFE_INTEGER, versionId: "" };

/**
 * The scans of the transitions that come due by time, each a prefix of an index of
 * catalogue-schema.ts: versions_by_tier (state, tier, accessed_ms) or versions_by_purge (state,
 * purge_ms), with the primary key InnoDB appends.
 */
export const DUE_SCANS = {
  /** Live hot versions, least recently read first: demotion. */
  hot: { where: "v.state = 'live' AND v.tier = 'hot'", column: "accessed_ms" },
  /** Every trash version, soonest purge first. */
  purgeable: { where: "v.state = 'trash'", column: "purge_ms" },
  /** Purges that began (marked) and did not finish: their bytes or row are still to go. */
  purging: { where: "v.state = 'purging'", column: "purge_ms" },
  /** Trash still on hot or cold in delete order (purge time = delete time + TTL); tier checked per row. */
  trashByDelete: { where: "v.state = 'trash' AND v.tier IN ('hot', 'cold')", column: "purge_ms" },
  /** Trash still on hot, or on cold, by the tier index. */
  trashOnHot: { where: "v.state = 'trash' AND v.tier = 'hot'", column: "accessed_ms" },
  trashOnCold: { where: "v.state = 'trash' AND v.tier = 'cold'", column: "accessed_ms" },
} as const satisfies Record<string, DueScan>;

/**
 * The versions each lifecycle transition is due for: pages of due rows for the due-row poller, and
 * what the reconciler asks for (at most `limit` rows each). Read-only: every change goes through
 * the Catalogue. The due scans are served by an index; leftover copies, a node's copies and short
 * ones scan the table.
 */
export class LifecycleQueries {
  constructor(private readonly pool: Pool) {}

  /** Versions with copies left over from a transition, still to delete. */
  withLeftoverCopies(limit: number): Promise<VersionRow[]> {
    return this.select("v.cleanup <> '' LIMIT ?", [limit]);
  }

  /**
   * How many versions, in any state or tier, list `nodeId` among their replicas: what a node being
   * removed still holds that is not yet copied elsewhere (a table scan; asked only while one drains).
   */
  async countOnNode(nodeId: string): Promise<number> {
    const [rows] = await this.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM versions WHERE FIND_IN_SET(?, replicas) > 0", [
      nodeId,
    ]);
    return Number(rows[0].n);
  }

  /** Live hot versions with a replica on `nodeId`. */
  hotOnNode(nodeId: string, limit: number): Promise<VersionRow[]> {
    return this.select("v.state = 'live' AND v.tier = 'hot' AND FIND_IN_SET(?, v.replicas) > 0 LIMIT ?", [nodeId, limit]);
  }

  /**
   * Live hot versions listing fewer than `replicas` copies (an upload or promotion below R, a repair
   * that had too few targets): without this they stay short until someone reads them (review §17).
   * Also those that name a node twice (splitIds): their entries overstate their copies.
   */
  underReplicated(replicas: number, limit: number): Promise<VersionRow[]> {
    return this.select(
      `v.state = 'live' AND v.tier = 'hot'
      AND (v.replicas = '' OR CHAR_LENGTH(v.replicas) - CHAR_LENGTH(REPLACE(v.replicas, ',', '')) + 1 < ?
        OR v.replicas REGEXP ?) LIMIT ?`,
      [replicas, REPEATED_ID, limit],
    );
  }

  /**
   * Ids of versions with copies left over, after `afterId` in primary-key order (a keyset page:
   * a walk reads the table once, however many rows stay pending). No index has `cleanup`: a page
   * reads rows until it has `limit` (a walk of 100,000 rows: one scan of the table).
   */
  async leftoverPage(afterId: string, limit: number): Promise<string[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      "SELECT version_id FROM versions WHERE version_id > ? AND cleanup <> '' ORDER BY version_id LIMIT ?",
      [afterId, limit],
    );
    return rows.map((r) => r.version_id as string);
  }

  /**
   * Up to `limit` rows of a scan after `after` with the column at or below `dueBy`, in (column,
   * version_id) order: a keyset page, so rows that stay (cannot move yet) never hide the ones behind
   * them, and each page is an index range read however many rows came before.
   */
  duePage(scan: DueScan, after: DueCursor, dueBy: number, limit: number, upTo?: DueBound): Promise<VersionRow[]> {
    const c = `v.${scan.column}`;
    const bound = upTo ? ` AND v.${upTo.column} <= ?` : "";
    return this.select(
      `${scan.where} AND ${c} <= ?${bound} AND (${c} > ? OR (${c} = ? AND v.version_id > ?)) ORDER BY ${c}, v.version_id LIMIT ?`,
      [dueBy, ...(upTo ? [upTo.at] : []), after.at, after.at, after.versionId, limit],
    );
  }

  /** The column of the first row of a scan after `after` (when the next one comes due), or null. */
  async nextAfter(scan: DueScan, after: DueCursor): Promise<number | null> {
    const c = `v.${scan.column}`;
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT ${c} AS at FROM versions v WHERE ${scan.where} AND (${c} > ? OR (${c} = ? AND v.version_id > ?))
        ORDER BY ${c}, v.version_id LIMIT 1`,
      [after.at, after.at, after.versionId],
    );
    return rows.length ? Number(rows[0].at) : null;
  }

  private async select(where: string, params: (string | number)[]): Promise<VersionRow[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT ${VERSION_COLUMNS} FROM versions v WHERE ${where}`, params);
    return rows.map(toVersionRow);
  }
}
