/**
 * Micro-benchmark (not a test): one key-change transaction (keyChangeBatch: upload commits and
 * deletes together) shaped as the overwrite row makes them, 5 commits over a set of 1,000 live
 * keys and a delete, on a database of its own on the shared MariaDB. Prints, per transaction, this
 * process's CPU µs, MariaDB's CPU µs (other sessions' load on MariaDB shows up here too: run it
 * under the bench lock, and from two builds alternated) and the round trip's wall µs.
 * `commits` sets the batch's size; "fresh" commits new keys (the mixed row's uploads) instead of
 * overwriting live ones; "nodelete" leaves the delete out. Sizes side by side give a transaction's
 * fixed cost and each commit's (bench/README.md "What a key-change transaction costs by its size").
 *
 *   node dist/bench/micro/key-change.js [transactions=3000] [rounds=3] [commits=5] [fresh] [nodelete]
 */
import { randomBytes } from "node:crypto";
import { newVersionId } from "../../services/common/ids";
import { CATALOGUE_MIGRATIONS } from "../../services/coordinator/catalogue/catalogue-schema";
import { keyChangeBatch, type KeyChange, type NewVersion } from "../../services/coordinator/catalogue/versions-sql";
import { cpuPerCall, withBenchDatabase } from "./micro-db";

const transactions = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 3);
const commits = Number(process.argv[4] ?? 5);
const fresh = process.argv.includes("fresh");
const withDelete = !process.argv.includes("nodelete");
const KEYS = 1000;
const TTL = 86_400_000;

let nextKey = 0;
/** The seeded keys first; past them, each key once more ("fresh") or the seeded ones again. */
const key = () => (fresh && nextKey >= KEYS ? `f${nextKey++}` : `k${String(nextKey++ % KEYS).padStart(4, "0")}`);

function version(k: string): NewVersion & { requestId: string } {
  return {
    versionId: newVersionId(),
    bucket: "bench",
    key: k,
    size: 4096,
    sha256: "a".repeat(64),
    etag: "b".repeat(32),
    contentType: "application/octet-stream",
    metadata: {},
    replicas: ["s1", "s2", "s3"],
    createdMs: Date.now(),
    requestId: randomBytes(8).toString("hex"),
  };
}

/** `commits` commits of distinct keys and (withDelete) a delete of one more. */
function batch(): KeyChange[] {
  const out: KeyChange[] = [];
  for (let i = 0; i < commits; i++) out.push({ kind: "commit", version: version(key()) });
  if (withDelete) out.push({ kind: "delete", key: { bucket: "bench", key: key(), requestId: randomBytes(8).toString("hex") } });
  return out;
}

withBenchDatabase(CATALOGUE_MIGRATIONS, async (pool, mariadb) => {
  // Every key live first, as the overwrite row seeds them; then a warm-up.
  for (let i = 0; i < KEYS; i += 5) {
    const seed = Array.from({ length: 5 }, () => ({ kind: "commit" as const, version: version(key()) }));
    await keyChangeBatch(pool, seed, Date.now(), TTL);
  }
  for (let i = 0; i < 300; i++) await keyChangeBatch(pool, batch(), Date.now(), TTL);
  const f = (n: number) => n.toFixed(0);
  for (let r = 1; r <= rounds; r++) {
    const m = await cpuPerCall(transactions, mariadb, () => keyChangeBatch(pool, batch(), Date.now(), TTL));
    console.log(
      `round ${r}: per transaction of ${commits} ${fresh ? "fresh" : "overwriting"} commits${withDelete ? " and a delete" : ""}: this process ${f(m.own)} µs CPU, MariaDB ${f(m.db)} µs CPU, round trip ${f(m.wall)} µs`,
    );
  }
});
