import * as mysql2 from "mysql2";
import type { Pool as CallbackPool } from "mysql2";
import { createConnection, type Pool } from "mysql2/promise";

// mysql2 pools without TypeORM: what a node needs (a heartbeat, the backup node's rows) and what
// every DataSource's pool is built with. TypeORM takes 1.2-1.5 s of a node's 3-5 s restart to load
// at load 14 on the 2-core VM, and a node has no use for it once its tables exist
// (node-migrations.ts).

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

/** Where TypeORM records the migrations run (the coordinator's and every node's). */
export const MIGRATIONS_TABLE = "schema_migrations";

/**
 * The prepared statements a connection keeps (mysql2's `maxPreparedStatements`). Its default, 16000,
 * sizes a cache (lru.min) that allocates its four arrays whole as the connection opens: 0.50 MiB of
 * live heap per connection, 5.5 MiB in a coordinator worker whose pool had opened 11 connections
 * under aws-cli multipart uploads (heap snapshot, 2026-12-04), 12 MiB at its 24. MiniS3 runs a few
 * dozen statement texts and their IN-list arities; 512 slots hold them all (16 KiB), and an evicted
 * one is only prepared again.
 */
export const MAX_PREPARED_STATEMENTS = 512;

/**
 * The options every pool is made with, TypeORM's included (which passes them on to mysql2): binary
 * collation, UTC, big numbers as numbers. (TypeORM drops options it does not know, so
 * maxPreparedStatements reaches its pool through `extra`: datasource.ts.)
 */
export const CONNECTION_OPTIONS = {
  maxPreparedStatements: MAX_PREPARED_STATEMENTS,
  charset: "utf8mb4_bin",
  timezone: "Z",
  supportBigNumbers: true,
  bigNumberStrings: false,
  // mysql2's `trace` (on by default) captures a stack trace (Error.captureStackTrace) on every
  // query, to splice the caller's frames into a failed query's error: 1.1 % of the coordinator's
  // CPU under the overwrite load, on every query, for errors that carry the SQL message anyway.
  trace: false,
} as const;

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

export interface PoolOpenOptions {
  url: string;
  poolSize: number;
  /** Deadline of every command on the pool's connections (default DB_COMMAND_TIMEOUT_MS). */
  commandTimeoutMs?: number;
}

/**
 * A guarded mysql2 promise pool on the database of `url` (which must exist: ensureDatabase). It
 * connects on its first query.
 */
export function openPool(opts: PoolOpenOptions): Pool {
  const t = parseMysqlUrl(opts.url);
  const pool = mysql2.createPool({
    ...CONNECTION_OPTIONS,
    host: t.host,
    port: t.port,
    socketPath: t.socketPath,
    user: t.user,
    password: t.password,
    database: t.database,
    connectionLimit: opts.poolSize,
    stringifyObjects: true, // as TypeORM sets it: an object is never expanded into SQL
  });
  return guardCommands(pool, opts.commandTimeoutMs ?? DB_COMMAND_TIMEOUT_MS).promise();
}

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
export function guardCommands(pool: CallbackPool, timeoutMs: number): CallbackPool {
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
