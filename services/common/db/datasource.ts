import * as mysql2 from "mysql2";
import type { PoolOptions } from "mysql2";
import type { Pool } from "mysql2/promise";
import { DataSource, type MigrationInterface } from "typeorm";
import {
  CONNECTION_OPTIONS,
  DB_COMMAND_TIMEOUT_MS,
  ensureDatabase,
  guardCommands,
  MAX_PREPARED_STATEMENTS,
  MIGRATIONS_TABLE,
  parseMysqlUrl,
} from "./pool";

export type MigrationClass = new () => MigrationInterface;

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
    ...CONNECTION_OPTIONS,
    logging: ["error"],
    maxQueryExecutionTime: 5000,
    extra: { maxPreparedStatements: MAX_PREPARED_STATEMENTS },
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

/** TypeORM 1.1's own definition of its migrations table on MariaDB, with IF NOT EXISTS. */
const MIGRATIONS_TABLE_DDL =
  `CREATE TABLE IF NOT EXISTS \`${MIGRATIONS_TABLE}\` (\`id\` int NOT NULL AUTO_INCREMENT, ` +
  "`timestamp` bigint NOT NULL, `name` varchar(255) NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB";

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
