import type { Pool } from "mysql2/promise";

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
}
