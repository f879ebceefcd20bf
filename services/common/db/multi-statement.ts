import type { Pool, PoolConnection } from "mysql2/promise";

/** Admits a write right before it is sent, and hears when it landed (the catalogue's WriteFence). */
export interface SendFence {
  admit(): number;
  settled(admittedAt: number): void;
}

const READ_COMMITTED = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";

/**
 * Connections whose session is READ COMMITTED already (mysql2's own connection objects, kept for
 * the pool's life). The SET went at the head of every transaction: one statement of the 7-9 of a
 * key change's, each parsed by MariaDB and answered with its own OK packet for the coordinator to read.
 */
const readCommittedSessions = new WeakSet<object>();

/**
 * A transaction sent as one query (READ COMMITTED: no gap locks, so concurrent uploads of new
 * keys do not deadlock; set on the session by the first transaction a connection carries).
 * add() returns the index of the statement's result in the output. Each instance is sent once
 * (run, runThen or open).
 * The pool must allow multiple statements per query (openDataSource's `multipleStatements`).
 */
export class MultiStatement {
  private readonly statements = ["START TRANSACTION"];
  private readonly params: unknown[] = [];

  add(sql: string, params: unknown[]): number {
    this.statements.push(sql);
    this.params.push(...params);
    return this.statements.length - 1;
  }

  /** Sends the statements and the COMMIT in one round trip; answers every statement's output. */
  async run(pool: Pool): Promise<unknown[]> {
    this.add("COMMIT", []);
    const { out, conn } = await this.open(pool);
    conn.release();
    return out;
  }

  /**
   * Commits the transaction and, in the same round trip, begins the next one on the same
   * connection with `next` (COMMIT; START TRANSACTION; next): work that must follow the commit (a
   * cleanup that locks the rows a move just changed) saves its own round trip. Answers as open()
   * does, with `next`'s result at `nextAt`. A failure after the COMMIT (in `next`) fails the whole
   * call too, though the first transaction committed: callers must be right either way.
   */
  async runThen(
    pool: Pool,
    next: string,
    nextParams: unknown[],
    fence?: SendFence,
  ): Promise<{ out: unknown[]; nextAt: number; conn: PoolConnection }> {
    this.add("COMMIT", []);
    this.add("START TRANSACTION", []);
    const nextAt = this.add(next, nextParams);
    return { ...(await this.open(pool, fence)), nextAt };
  }

  /**
   * Sends the statements without committing: answers their output and the connection, inside the
   * open transaction; the caller ends it (COMMIT or ROLLBACK) and releases the connection. On
   * failure nothing is left open. `fence` admits the send once the connection is held and hears
   * when the round trip returned.
   */
  async open(pool: Pool, fence?: SendFence): Promise<{ out: unknown[]; conn: PoolConnection }> {
    const c = await pool.getConnection();
    const session = (c as unknown as { connection?: object }).connection;
    const setSession = !session || !readCommittedSessions.has(session);
    let admitted: number | undefined;
    let sent = false;
    try {
      admitted = fence?.admit();
      sent = true;
      const sql = (setSession ? [READ_COMMITTED, ...this.statements] : this.statements).join(";\n");
      const [out] = (await c.query(sql, this.params)) as unknown as [unknown[]];
      if (setSession) {
        if (session) readCommittedSessions.add(session);
        out.shift();
      }
      return { out, conn: c };
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
