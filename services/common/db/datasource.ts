import * as mysql2 from "mysql2";
import type { Pool as CallbackPool, PoolOptions } from "mysql2";
import { createConnection } from "mysql2/promise";
import type { Pool } from "mysql2/promise";
import { DataSource, type MigrationInterface } from "typeorm";

export type MigrationClass = new () => MigrationInterface;

export interface MysqlTarget {
  host: string;
  port: number;
  /** A Unix socket (`?socket=/run/mysqld/mysqld.sock`): cheaper per query than TCP loopback. */
  socketPath?: string;
  user: string;
  password: string;
  database: string;
}

export function parseMysqlUrl(url: string): MysqlTarget {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) {
    throw new Error(`MySQL URL must name a database of letters, digits and '_' (got "${database}")`);
  }
  return {
    host: u.hostname || "127.0.0.1",
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || "root"),
    password: decodeURIComponent(u.password),
    database,
    socketPath: u.searchParams.get("socket") || undefined,
  };
}

/** Creates the database if it does not exist (needs a user allowed to). */
export async function ensureDatabase(target: MysqlTarget): Promise<void> {
  const conn = await createConnection({
    host: target.host,
    port: target.port,
    socketPath: target.socketPath,
    user: target.user,
    password: target.password,
  });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${target.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
}

export interface OpenOptions {
  url: string;
  /** Idempotent migrations (CREATE TABLE IF NOT EXISTS...): several processes may run them at once. */
  migrations?: MigrationClass[];
  poolSize?: number;
  /**
   * Lets one query carry several statements (a whole transaction in one round trip). Every value
   * still goes through placeholders; only the coordinator's catalogue uses it.
   */
  multipleStatements?: boolean;
  /** Deadline of every command on the pool's connections (default DB_COMMAND_TIMEOUT_MS). */
  commandTimeoutMs?: number;
}

/**
 * No MariaDB command waits longer than this for its answer. mysql2 has no pool-wide query timeout
 * (its per-query `timeout` leaves the stuck command on a connection that goes back to the pool, and
 * commands queued behind it never time out) and no pool acquire timeout, and TCP takes about 15 min
 * to give up on a partitioned server. 60 s is above InnoDB's lock wait timeout (50 s), so a query
 * that waits on a lock gets the server's own error first; nothing the catalogue runs takes a tenth
 * of it. With every connection guarded, a waiting pool acquire is bounded too (a stuck connection
 * is dropped at the deadline and its place taken by a new one).
 */
export const DB_COMMAND_TIMEOUT_MS = 60_000;

/**
 * Opens a TypeORM DataSource on MINIS3_MYSQL_URL, creating the database and running the owner's
 * migrations first. Hot paths use `sqlPool(ds)` (mysql2's binary protocol, prepared statements)
 * rather than TypeORM's query builder, whose overhead is several times the query's. No entities:
 * each table is described once, by its owner's `*-schema.ts` migration.
 */
export async function openDataSource(opts: OpenOptions): Promise<DataSource> {
  const target = parseMysqlUrl(opts.url);
  await ensureDatabase(target);
  const ds = new DataSource({
    type: "mariadb",
    host: target.host,
    port: target.port,
    socketPath: target.socketPath,
    username: target.user,
    password: target.password,
    database: target.database,
    migrations: opts.migrations ?? [],
    migrationsTableName: MIGRATIONS_TABLE,
    synchronize: false,
    poolSize: opts.poolSize ?? 16,
    multipleStatements: opts.multipleStatements ?? false,
    charset: "utf8mb4_bin",
    timezone: "Z",
    supportBigNumbers: true,
    bigNumberStrings: false,
    logging: ["error"],
    maxQueryExecutionTime: 5000,
    // mysql2's `trace` (on by default) captures a stack trace (Error.captureStackTrace) on every
    // query, to splice the caller's frames into a failed query's error: 1.1 % of the coordinator's
    // CPU under the overwrite load, on every query, for errors that carry the SQL message anyway.
    trace: false,
    // TypeORM's documented way to hand it the mysql2 module: ours guards every pool it creates.
    driver: {
      ...mysql2,
      createPool: (o: PoolOptions) => guardCommands(mysql2.createPool(o), opts.commandTimeoutMs ?? DB_COMMAND_TIMEOUT_MS),
    },
  });
  await ds.initialize();
  if (opts.migrations?.length) {
    // Processes starting together on a fresh database all found TypeORM's migrations table missing
    // and ran its plain CREATE TABLE: the losers' failed and were logged ("query failed", "already
    // exists") on a healthy start. The same table, created first with IF NOT EXISTS, leaves TypeORM
    // nothing to create. Our migrations are idempotent, so running them together is fine.
    await ds.query(MIGRATIONS_TABLE_DDL);
    await ds.runMigrations({ transaction: "none" });
  }
  return ds;
}

const MIGRATIONS_TABLE = "schema_migrations";
/** TypeORM 1.1's own definition of its migrations table on MariaDB, with IF NOT EXISTS. */
const MIGRATIONS_TABLE_DDL =
  `CREATE TABLE IF NOT EXISTS \`${MIGRATIONS_TABLE}\` (\`id\` int NOT NULL AUTO_INCREMENT, ` +
  "`timestamp` bigint NOT NULL, `name` varchar(255) NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB";

/** The parts of mysql2's callback connection the deadline works with. */
interface RawConnection {
  addCommand(cmd: NodeJS.EventEmitter): unknown;
  stream: { destroy(err?: Error): void };
  _fatalError: unknown;
}

/**
 * Gives every command on every connection of a pool a deadline (see
 * DB_COMMAND_TIMEOUT_MS). At the deadline the connection's socket is destroyed: mysql2 then fails
 * the command and every one queued behind it with a fatal error, and the pool drops the connection.
 */
function guardCommands(pool: CallbackPool, timeoutMs: number): CallbackPool {
  pool.on("connection", (c) => {
    const conn = c as unknown as RawConnection;
    const add = conn.addCommand.bind(conn);
    conn.addCommand = (cmd) => {
      const timer = setTimeout(() => {
        if (conn._fatalError) return; // already failed: its commands have their errors
        const err = Object.assign(new Error(`MariaDB gave no answer within ${timeoutMs} ms`), { code: "PROTOCOL_SEQUENCE_TIMEOUT" });
        conn.stream.destroy(err);
      }, timeoutMs);
      timer.unref();
      cmd.once("end", () => clearTimeout(timer));
      return add(cmd);
    };
  });
  return pool;
}

/**
 * True when a database error means "MariaDB is away or did not answer" (try again later: 503), as
 * against a statement the server refused for what it carried (a bug, or a bad value). Connection
 * errors (refused, lost, timed out, the pool closed) carry a code but no SQL state, or are fatal;
 * a few server errors also mean "not now".
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  const err = e as { code?: unknown; sqlState?: unknown; fatal?: unknown };
  if (typeof err?.code !== "string") return false;
  if (typeof err.sqlState !== "string" || err.fatal === true) return true;
  return err.sqlState.startsWith("08") || UNAVAILABLE_SERVER_ERRORS.has(err.code);
}

const UNAVAILABLE_SERVER_ERRORS = new Set([
  "ER_LOCK_WAIT_TIMEOUT",
  "ER_LOCK_DEADLOCK",
  "ER_QUERY_INTERRUPTED",
  "ER_STATEMENT_TIMEOUT",
  "ER_SERVER_SHUTDOWN",
  "ER_CON_COUNT_ERROR",
  "ER_TOO_MANY_USER_CONNECTIONS",
]);

/** mysql2's own promise pool behind a DataSource, for prepared statements on hot paths. */
export function sqlPool(ds: DataSource): Pool {
  // TypeORM's MySQL driver keeps the callback pool in `.pool`; `.promise()` wraps the same sockets.
  return (ds.driver as unknown as { pool: { promise(): Pool } }).pool.promise();
}

/**
 * True when MariaDB refused a statement for what it carried (a value too long, a constraint): the
 * server answered, so the connection is fine and the same statements without the culprit can pass.
 */
export function isStatementError(e: unknown): boolean {
  const err = e as { sqlState?: unknown; fatal?: unknown };
  return typeof err?.sqlState === "string" && err.fatal !== true;
}

/** Runs fn, retrying on deadlocks and Galera certification conflicts (short transactions only). */
export async function withRetry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const code = (e as { code?: string }).code;
      const retryable = code === "ER_LOCK_DEADLOCK" || code === "ER_LOCK_WAIT_TIMEOUT" || code === "ER_QUERY_INTERRUPTED";
      if (!retryable || i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 5 * i + Math.random() * 10));
    }
  }
}
