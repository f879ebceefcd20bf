import { statfs } from "node:fs/promises";
import { join } from "node:path";
import type { Pool, RowDataPacket } from "mysql2/promise";

/**
 * The free space a backup node can honestly report: its bytes are rows in MariaDB, so what bounds
 * it is the filesystem of MariaDB's data directory. That is known here only when MariaDB runs on
 * this host: `@@datadir` joined with this database's name is a directory here (a database's folder,
 * named after its random or configured name, is not there by chance). Otherwise (MariaDB in another
 * container or host) it is unknown: null, never 0, which read as "full".
 */
export async function databaseFreeBytes(pool: Pick<Pool, "query">): Promise<number | null> {
  const [rows] = await pool.query<RowDataPacket[]>("SELECT @@datadir AS dir, DATABASE() AS db");
  const { dir, db } = rows[0] ?? {};
  if (typeof dir !== "string" || typeof db !== "string") return null;
  return freeBytesAt(join(dir, db));
}

/** Free bytes (for an unprivileged user) of the filesystem holding `path`, or null when it is not here. */
export async function freeBytesAt(path: string): Promise<number | null> {
  try {
    const fs = await statfs(path);
    return fs.bavail * fs.bsize;
  } catch {
    return null;
  }
}
