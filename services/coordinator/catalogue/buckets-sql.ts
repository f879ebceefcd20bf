import type { Pool, RowDataPacket } from "mysql2/promise";
import type { BucketRow } from "../model/bucket-row";

// SQL for the buckets table (buckets-schema.ts). A commit or an undelete makes its bucket's row in
// its own transaction (BUCKET_ROW_SQL), so no door can leave a visible object in a bucket without one.

/** Makes a bucket's row if it has none: in the same transaction as the change that puts an object in it. */
export const BUCKET_ROW_SQL = "INSERT IGNORE INTO buckets (name, created_ms, owner) VALUES ";

export class BucketQueries {
  constructor(private readonly pool: Pool) {}

  /** True when the bucket was made now; false when it existed already. */
  async create(name: string, owner: string, nowMs: number): Promise<boolean> {
    const [r] = await this.pool.execute(`${BUCKET_ROW_SQL}(?, ?, ?)`, [name, nowMs, owner]);
    return (r as { affectedRows: number }).affectedRows === 1;
  }

  async get(name: string): Promise<BucketRow | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>("SELECT name, created_ms, owner FROM buckets WHERE name = ?", [name]);
    return rows.length ? toBucketRow(rows[0]) : null;
  }

  /** Every bucket, by name (S3 lists them all: at most a few thousand per account). */
  async list(): Promise<BucketRow[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>("SELECT name, created_ms, owner FROM buckets ORDER BY name");
    return rows.map(toBucketRow);
  }

  /**
   * Deletes the bucket's row unless it has a visible object, in one statement: "deleted",
   * "not-empty" or "missing". Its trash stays until purged (an undelete makes the row again).
   */
  async deleteIfEmpty(name: string): Promise<"deleted" | "not-empty" | "missing"> {
    const [r] = await this.pool.execute(
      "DELETE FROM buckets WHERE name = ? AND NOT EXISTS (SELECT 1 FROM objects WHERE bucket = ? LIMIT 1)",
      [name, name],
    );
    if ((r as { affectedRows: number }).affectedRows === 1) return "deleted";
    return (await this.get(name)) ? "not-empty" : "missing";
  }
}

function toBucketRow(r: RowDataPacket): BucketRow {
  return {
    name: Buffer.isBuffer(r.name) ? r.name.toString("utf8") : String(r.name),
    createdMs: Number(r.created_ms),
    owner: String(r.owner),
  };
}
