import type { Pool, PoolConnection } from "mysql2/promise";
import { withRetry } from "./datasource";

/**
 * Runs fn in a short transaction on one pooled connection, retried as a whole on deadlocks and
 * Galera certification conflicts (so fn must only touch the database).
 */
export function inTransaction<T>(pool: Pool, fn: (conn: PoolConnection) => Promise<T>, opts: { readCommitted?: boolean } = {}): Promise<T> {
  return withRetry(async () => {
    const conn = await pool.getConnection();
    try {
      // READ COMMITTED takes no gap locks: concurrent inserts of new keys do not deadlock.
      if (opts.readCommitted) await conn.query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
      await conn.beginTransaction();
      try {
        const out = await fn(conn);
        await conn.commit();
        return out;
      } catch (e) {
        await conn.rollback().catch(() => undefined);
        throw e;
      }
    } finally {
      conn.release();
    }
  });
}
