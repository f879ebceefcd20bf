/**
 * Micro-benchmark (not a test): the backup node's grouped deletes of small copies alone, as trash
 * moves from the cold tier and purges ask for them (bench/README "The lifecycle alone", Step 7).
 * Seeds `objects` 4 KiB copies through the backend's own grouped puts into a database of its own,
 * then deletes them all with `inFlight` deletes waiting at once, and reports deletes a second and
 * the CPU per delete of this process and of the MariaDB it talks to (the one on the URL's port).
 *
 *   MINIS3_MYSQL_URL=mysql://root@127.0.0.1:3420/x node dist/bench/micro/backup-delete.js [objects=20000] [inFlight=512]
 *
 * With performance_schema on, it also prints the delete phase's text statements by total time
 * (COMMIT, START TRANSACTION: those run through execute() are not in the digest table).
 */
import { createHash, randomBytes } from "node:crypto";
import type { RowDataPacket } from "mysql2/promise";
import pino from "pino";
import { MysqlBackupBackend } from "../../services/backup-node/backup-backend";
import { BACKUP_MIGRATIONS } from "../../services/backup-node/backup-schema";
import { openDataSource, sqlPool } from "../../services/common/db/datasource";
import { cpuSnapshot, findInfraProcesses, localPort } from "../procs";

async function inParallel(ids: string[], inFlight: number, fn: (id: string) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < ids.length) await fn(ids[next++]);
    }),
  );
}

async function main(): Promise<void> {
  const [objects = 20_000, inFlight = 512] = process.argv.slice(2, 4).map(Number);
  const base = new URL(process.env.MINIS3_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/x");
  const dbName = `minis3_micro_del_${randomBytes(4).toString("hex")}`;
  base.pathname = `/${dbName}`;
  const ds = await openDataSource({ url: base.toString(), migrations: BACKUP_MIGRATIONS, poolSize: 16 });
  const pool = sqlPool(ds);
  const backend = new MysqlBackupBackend({ nodeId: "backup-micro", pool, log: pino({ level: "silent" }) });
  await backend.open();
  const mariadb = findInfraProcesses({ mysql: localPort(base.toString(), 3306) }).filter((p) => p.name === "mariadbd");
  try {
    // Version ids as the catalogue makes them: random, so a batch's ids are spread over the index.
    const ids = Array.from({ length: objects }, () => randomBytes(13).toString("hex"));
    const data = randomBytes(4096); // incompressible: stored raw, as the bench's objects
    const sha = createHash("sha256").update(data).digest();
    await inParallel(ids, 256, (id) => backend.putSmall(id, {}, data, sha));
    const order = [...ids].sort(() => Math.random() - 0.5);
    await pool.query("TRUNCATE performance_schema.events_statements_summary_by_digest").catch(() => undefined);
    const db0 = cpuSnapshot(mariadb);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let existed = 0;
    await inParallel(order, inFlight, async (id) => {
      if (await backend.delete(id)) existed++;
    });
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const own = process.cpuUsage(cpu0);
    const db1 = cpuSnapshot(mariadb);
    const dbS = mariadb.length ? db1.get(mariadb[0].pid)! - db0.get(mariadb[0].pid)! : NaN;
    console.log(
      JSON.stringify({
        objects,
        inFlight,
        existed,
        deletesPerSec: Math.round(objects / wallS),
        nodeCpuUsPerDelete: +((own.user + own.system) / objects).toFixed(1),
        mariadbCpuUsPerDelete: +((dbS * 1e6) / objects).toFixed(1),
      }),
    );
    const [digests] = await pool
      .query<RowDataPacket[]>(
        `SELECT COUNT_STAR AS n, ROUND(SUM_TIMER_WAIT / 1e9, 1) AS ms, LEFT(DIGEST_TEXT, 90) AS stmt
           FROM performance_schema.events_statements_summary_by_digest
          WHERE SCHEMA_NAME = ? ORDER BY SUM_TIMER_WAIT DESC LIMIT 8`,
        [dbName],
      )
      .catch(() => [[] as RowDataPacket[]]);
    for (const d of digests) console.log(`  ${String(d.n).padStart(6)} ${String(d.ms).padStart(9)} ms  ${d.stmt}`);
  } finally {
    await backend.close();
    await ds.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await ds.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
