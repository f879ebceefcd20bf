/**
 * Micro-benchmark (not a test): the due-row poller's trash moves of overwritten versions, as
 * moveBatch sends a batch of them (one lock and one UPDATE: addMoves), `size` moves a batch, each
 * off the three storage nodes onto the delete node. Prints MariaDB's CPU µs per move (only around
 * the batches: the rows they move are inserted before each round) and the round trip's wall µs per
 * batch. Point it at a private MariaDB (MINIS3_MYSQL_URL, micro-db.ts): other sessions' load on a
 * shared one shows up in its CPU.
 *
 *   node dist/bench/micro/trash-move.js [batches=40] [rounds=3] [size=256]
 */
import { newVersionId } from "../../services/common/ids";
import { CATALOGUE_MIGRATIONS } from "../../services/coordinator/catalogue/catalogue-schema";
import { moveBatch, type TierMove } from "../../services/coordinator/catalogue/versions-sql";
import { readdirSync, readFileSync } from "node:fs";
import { withBenchDatabase } from "./micro-db";

const batches = Number(process.argv[2] ?? 40);
const rounds = Number(process.argv[3] ?? 3);
const size = Number(process.argv[4] ?? 256);
const OLD = ["s1", "s2", "s3"];

/** MariaDB's CPU ns, all its threads (schedstat: ns, where /proc/<pid>/stat counts 10 ms ticks). */
function cpuNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread gone meanwhile
    }
  }
  return ns;
}

withBenchDatabase(CATALOGUE_MIGRATIONS, async (pool, mariadb) => {
  if (mariadb === undefined) throw new Error("no local mariadbd found");
  const now = Date.now();
  /** `n` overwritten versions in the trash, still on the storage nodes, at generation 1. */
  const seed = async (n: number): Promise<TierMove[]> => {
    const ids = Array.from({ length: n }, () => newVersionId());
    for (let i = 0; i < n; i += 500) {
      const part = ids.slice(i, i + 500);
      await pool.query(
        `INSERT INTO versions (version_id, bucket, object_key, size, sha256, etag, content_type, state, tier, replicas,
                               created_ms, accessed_ms, deleted_ms, purge_ms, reason, gen)
         VALUES ${part.map(() => "(?, 'bench', ?, 4096, REPEAT('a', 64), REPEAT('b', 32), 'application/octet-stream', 'trash', 'hot', 's1,s2,s3', ?, ?, ?, ?, 'overwritten', 1)").join(", ")}`,
        part.flatMap((id, j) => [id, `k${String((i + j) % 1000).padStart(4, "0")}`, now, now, now, now + 86_400_000]),
      );
    }
    return ids.map((versionId) => ({
      versionId,
      expect: { state: "trash", tier: "hot", gen: 1 },
      to: { tier: "trash", replicas: ["d1"] },
      oldCopies: OLD,
    }));
  };
  const run = async (label: string) => {
    const moves = await seed(batches * size);
    const db0 = cpuNs(mariadb);
    const t0 = performance.now();
    let moved = 0;
    for (let b = 0; b < batches; b++) moved += (await moveBatch(pool, moves.slice(b * size, (b + 1) * size))).filter(Boolean).length;
    const t1 = performance.now();
    const db1 = cpuNs(mariadb);
    if (moved !== moves.length) throw new Error(`moved ${moved} of ${moves.length}`);
    console.log(
      `${label}: ${batches} batches of ${size} trash moves: MariaDB ${((db1 - db0) / 1000 / moves.length).toFixed(1)} µs CPU a move, round trip ${((t1 - t0) / batches).toFixed(2)} ms a batch`,
    );
  };
  await run("warm-up");
  for (let r = 1; r <= rounds; r++) await run(`round ${r}`);
});
