/**
 * Micro-benchmark (not a test): what reading the read caches' fence epoch adds to a coordinator's
 * presence heartbeat (CoordinatorPresence.beat: INSERT … ON DUPLICATE KEY UPDATE + SELECT of the
 * peers' rows, now + SELECT of cache_fence, in the same round trip), on a database of its own on the
 * shared MariaDB. Prints, per heartbeat, this process's CPU µs, MariaDB's CPU µs (other sessions' load
 * on MariaDB shows up here too: compare the two runs of a round) and the round trip's wall µs.
 *
 *   node dist/bench/micro/fence-read-cost.js [heartbeats=2000] [rounds=3]
 */
import type { Pool } from "mysql2/promise";
import { READ_FENCE_SQL } from "../../services/coordinator/cluster/cache-fence";
import { COORDINATOR_MIGRATIONS } from "../../services/coordinator/cluster/coordinators-schema";
import { cpuPerCall, withBenchDatabase } from "./micro-db";

const heartbeats = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);

const BEAT = `INSERT INTO coordinators (id, state, started_at, heartbeat_at, beat, pid) VALUES (?, 'up', NOW(3), NOW(3), 1, ?)
   ON DUPLICATE KEY UPDATE beat = beat + 1, heartbeat_at = NOW(3);
 SELECT id, state, beat, pid FROM coordinators WHERE id <> ?`;

async function run(pool: Pool, mariadb: number | undefined, withFence: boolean): Promise<{ own: number; db: number; wall: number }> {
  const sql = withFence ? `${BEAT};\n ${READ_FENCE_SQL}` : BEAT;
  const beat = () => pool.query(sql, ["bench/a", process.pid, "bench/a"]);
  for (let i = 0; i < 100; i++) await beat();
  return cpuPerCall(heartbeats, mariadb, beat);
}

withBenchDatabase(COORDINATOR_MIGRATIONS, async (pool, mariadb) => {
  // Two peers' rows, as with three coordinators.
  for (const peer of ["bench/b", "bench/c"]) {
    await pool.query("INSERT INTO coordinators (id, state, started_at, heartbeat_at, beat) VALUES (?, 'up', NOW(3), NOW(3), 1)", [peer]);
  }
  const f = (n: number) => n.toFixed(0);
  for (let r = 1; r <= rounds; r++) {
    const without = await run(pool, mariadb, false);
    const withFence = await run(pool, mariadb, true);
    console.log(
      `round ${r}: per heartbeat, without → with the fence read: this process ${f(without.own)} → ${f(withFence.own)} µs CPU, ` +
        `MariaDB ${f(without.db)} → ${f(withFence.db)} µs CPU, round trip ${f(without.wall)} → ${f(withFence.wall)} µs`,
    );
  }
});
