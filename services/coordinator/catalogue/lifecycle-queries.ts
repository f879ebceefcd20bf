import type { Pool, RowDataPacket } from "mysql2/promise";
import type { VersionRow } from "../model/version-row";
import { toVersionRow, VERSION_COLUMNS } from "./version-columns";

/**
 * The versions each lifecycle transition is due for, as the reconciler asks for them: at most
 * `limit` rows each, read-only (every change goes through the Catalogue). Each query is served by
 * an index of catalogue-schema.ts except leftover copies, a node's copies and short ones, which scan.
 */
export class LifecycleQueries {
  constructor(private readonly pool: Pool) {}

  /** Live hot versions last read at or before `accessedBy`, least recently read first. */
  dueForDemotion(accessedBy: number, limit: number): Promise<VersionRow[]> {
    return this.select("v.state = 'live' AND v.tier = 'hot' AND v.accessed_ms <= ? ORDER BY v.accessed_ms LIMIT ?", [accessedBy, limit]);
  }

  /** Trash versions whose bytes are still on the hot or cold tier. */
  trashToMove(limit: number): Promise<VersionRow[]> {
    return this.select("v.state = 'trash' AND v.tier IN ('hot', 'cold') LIMIT ?", [limit]);
  }

  /** Trash versions to purge at or before `purgeBy`, soonest first, and purges that began. */
  dueForPurge(purgeBy: number, limit: number): Promise<VersionRow[]> {
    return this.select("v.state IN ('trash', 'purging') AND v.purge_ms <= ? ORDER BY v.purge_ms LIMIT ?", [purgeBy, limit]);
  }

  /** Versions with copies left over from a transition, still to delete. */
  withLeftoverCopies(limit: number): Promise<VersionRow[]> {
    return this.select("v.cleanup <> '' LIMIT ?", [limit]);
  }

  /** Live hot versions with a replica on `nodeId`. */
  hotOnNode(nodeId: string, limit: number): Promise<VersionRow[]> {
    return this.select("v.state = 'live' AND v.tier = 'hot' AND FIND_IN_SET(?, v.replicas) > 0 LIMIT ?", [nodeId, limit]);
  }

  /**
   * Live hot versions listing fewer than `replicas` copies (an upload or promotion below R, a repair
   * that had too few targets): without this they stay short until someone reads them (review §17).
   */
  underReplicated(replicas: number, limit: number): Promise<VersionRow[]> {
    return this.select(
      `v.state = 'live' AND v.tier = 'hot'
      AND (v.replicas = '' OR CHAR_LENGTH(v.replicas) - CHAR_LENGTH(REPLACE(v.replicas, ',', '')) + 1 < ?) LIMIT ?`,
      [replicas, limit],
    );
  }

  private async select(where: string, params: (string | number)[]): Promise<VersionRow[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT ${VERSION_COLUMNS} FROM versions v WHERE ${where}`, params);
    return rows.map(toVersionRow);
  }
}
