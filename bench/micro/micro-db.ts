import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Pool } from "mysql2/promise";
import type { MigrationInterface } from "typeorm";
import { openDataSource, sqlPool } from "../../services/common/db/datasource";
import { findInfraProcesses, localPort, readCpuSeconds } from "../procs";

// What the MariaDB micro-benchmarks share: a database of their own on the shared MariaDB, and CPU per call.

const mysqlBase = process.env.MINIS3_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";

/**
 * Runs `fn` on a new database with `migrations` (a pool allowing multi-statement queries) and the
 * pid of the local mariadbd (undefined when MariaDB is elsewhere); drops the database after, and
 * exits the process with its outcome.
 */
export function withBenchDatabase(
  migrations: (new () => MigrationInterface)[],
  fn: (pool: Pool, mariadb: number | undefined) => Promise<void>,
): void {
  const run = async () => {
    const name = `minis3_bench_${randomBytes(6).toString("hex")}`;
    const ds = await openDataSource({ url: `${mysqlBase}/${name}`, migrations, poolSize: 2, multipleStatements: true });
    try {
      await fn(sqlPool(ds), findInfraProcesses({ mysql: localPort(mysqlBase, 3306) }).find((p) => p.name === "mariadbd")?.pid);
    } finally {
      await ds.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await ds.destroy();
    }
  };
  run().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

/** Per call of `n` sequential calls of `call`: this process's CPU µs, MariaDB's (NaN without its pid) and wall µs. */
export async function cpuPerCall(
  n: number,
  mariadb: number | undefined,
  call: () => Promise<unknown>,
): Promise<{ own: number; db: number; wall: number }> {
  const own = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const [own0, db0, t0] = [own(), mariadb && readCpuSeconds(mariadb), performance.now()];
  for (let i = 0; i < n; i++) await call();
  const [own1, db1, t1] = [own(), mariadb && readCpuSeconds(mariadb), performance.now()];
  return {
    own: (own1 - own0) / n,
    db: db0 !== undefined && db1 !== undefined ? ((db1 - db0) * 1e6) / n : NaN,
    wall: ((t1 - t0) * 1000) / n,
  };
}
