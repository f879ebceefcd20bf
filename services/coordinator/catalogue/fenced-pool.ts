import type { Pool, PoolConnection } from "mysql2/promise";

/** Whether this coordinator may change the catalogue now (its presence lease, CoordinatorPresence). */
export interface WriteFence {
  /** Throws (CatalogueUnavailable) unless a write may be sent now; returns when it was admitted. */
  admit(): number;
  /** The write admitted at `admittedAt` has finished, landed or not. */
  settled(admittedAt: number): void;
  /** Resolves once admit() may pass, or once it will not soon (CoordinatorPresence.writable). */
  writable(): Promise<void>;
}

type Call = (...args: unknown[]) => Promise<unknown>;

/**
 * The pool the catalogue's writes go through: each is admitted by the fence only once it holds a
 * connection, so that nothing but the send itself comes between the check and MariaDB (waiting for a
 * connection, or opening one, is where a stall would otherwise let a write admitted long ago land
 * late). A transaction of several round trips is admitted again at its COMMIT.
 */
export function fencedPool(pool: Pool, fence: WriteFence): Pool {
  // A write the fence refuses (a lapsed lease: e.g. MariaDB was away longer than it) waits, without
  // its connection, for the fence to admit writes again, then is admitted once more or refused.
  const admitted = async (): Promise<{ conn: PoolConnection; at: number }> => {
    for (let waited = false; ; waited = true) {
      const conn = await pool.getConnection();
      try {
        return { conn, at: fence.admit() };
      } catch (e) {
        conn.release();
        if (waited) throw e;
      }
      await fence.writable();
    }
  };
  const statement = (method: "query" | "execute") =>
    async function (...args: unknown[]): Promise<unknown> {
      const { conn, at } = await admitted();
      try {
        return await (conn[method] as Call).apply(conn, args);
      } finally {
        conn.release();
        fence.settled(at);
      }
    };
  const fenced = {
    query: statement("query"),
    execute: statement("execute"),
    async getConnection(): Promise<PoolConnection> {
      const first = await admitted();
      const { conn } = first;
      let { at } = first;
      return Object.assign(Object.create(conn) as PoolConnection, {
        commit: () => {
          at = fence.admit();
          return conn.commit();
        },
        release: () => {
          conn.release();
          fence.settled(at);
        },
      });
    },
  };
  return fenced as unknown as Pool;
}
