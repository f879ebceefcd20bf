import type { Pool, PoolConnection } from "mysql2/promise";

/** Admits a write right before it is sent, and hears when it landed (the catalogue's WriteFence). */
export interface SendFence {
  admit(): number;
  settled(admittedAt: number): void;
}

/**
 * A transaction sent as one query (READ COMMITTED: no gap locks, so concurrent uploads of new
 * keys do not deadlock). add() returns the index of the statement's result in run()'s output.
 * The pool must allow multiple statements per query (openDataSource's `multipleStatements`).
 */
export class MultiStatement {
  private readonly statements = ["SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "START TRANSACTION"];
  private readonly params: unknown[] = [];

  add(sql: string, params: unknown[]): number {
    this.statements.push(sql);
    this.params.push(...params);
    return this.statements.length - 1;
  }

  async run(pool: Pool): Promise<unknown[]> {
    const c = await pool.getConnection();
    try {
      const [out] = await c.query(this.statements.join(";\n") + ";\nCOMMIT", this.params);
      return out as unknown[];
    } catch (e) {
      // A failed statement stops the rest: the transaction is still open on this connection.
      await c.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  /**
   * Commits the transaction and, in the same round trip, begins the next one on the same
   * connection with `next` (COMMIT; START TRANSACTION; next): work that must follow the commit (a
   * cleanup that locks the rows a move just changed) saves its own round trip. `fence` admits the
   * send once the connection is held and hears when the round trip returned (the commit landed).
   * Answers the output (`next`'s result at `nextAt`) and the connection, inside the new
   * transaction: the caller ends it (COMMIT or ROLLBACK) and releases the connection. On failure
   * nothing is left open. A failure after the COMMIT (in `next`) fails the whole call too, though
   * the first transaction committed: callers must be right either way.
   */
  async runThen(
    pool: Pool,
    next: string,
    nextParams: unknown[],
    fence?: SendFence,
  ): Promise<{ out: unknown[]; nextAt: number; conn: PoolConnection }> {
    const c = await pool.getConnection();
    let admitted: number | undefined;
    let sent = false;
    try {
      admitted = fence?.admit();
      sent = true;
      const [out] = await c.query(`${this.statements.join(";\n")};\nCOMMIT;\nSTART TRANSACTION;\n${next}`, [...this.params, ...nextParams]);
      return { out: out as unknown[], nextAt: this.statements.length + 2, conn: c };
    } catch (e) {
      // A failed statement stops the rest: a transaction is still open on this connection.
      if (sent) await c.query("ROLLBACK").catch(() => undefined);
      c.release();
      throw e;
    } finally {
      if (admitted !== undefined) fence?.settled(admitted);
    }
  }
}
