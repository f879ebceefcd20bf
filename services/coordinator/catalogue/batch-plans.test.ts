import type { RowDataPacket } from "mysql2/promise";
import { Catalogue } from "./catalogue";
import { testVersion } from "./testing/cache-peers";
import { countingPool, statementsOf } from "./testing/statement-capture";
import { throwawayCatalogueDatabase } from "./testing/throwaway-database";
import { ACCESS_TIMES_SQL, markPurgingBatch, moveBatch, updateAccessTimes } from "./versions-sql";

// The batches that name their versions in one JSON parameter (JSON_TABLE) must read them from that
// list, each by its primary key, and lock them in the list's order, whatever the optimizer guesses
// of the table's size: read the other way round (the table first, the list joined to it), a batch
// locks and reads every row of the range it scans (on a catalogue of a few rows, the whole table;
// under load, versions_by_purge's due range was chosen now and then, catalogue.test.ts's 300-row
// plan test failing about once in a busy run). A catalogue of two versions makes the optimizer
// prefer the table first on the plain join, so these fail on a join it may reorder.

const db = throwawayCatalogueDatabase();

/** The plan of each statement that joins a JSON list, as [table, type, key] in join order. */
async function plansOf(sent: string[], sentParams: unknown[][], setup: (sql: string) => boolean = () => false) {
  const conn = await db.pool().getConnection();
  try {
    const plans: [string, string, string | null][][] = [];
    for (let i = 0; i < sent.length; i++) {
      for (const q of statementsOf(sent[i], sentParams[i])) {
        if (setup(q.sql)) await conn.query(q.sql, q.params);
        if (!/JSON_TABLE/.test(q.sql)) continue;
        const [plan] = await conn.query<RowDataPacket[]>(`EXPLAIN ${q.sql}`, q.params);
        plans.push(plan.map((r) => [r.table, r.type, r.key]));
      }
    }
    return plans;
  } finally {
    conn.release();
  }
}

/** The list first, then each version by its primary key. */
const LIST_THEN_PRIMARY = [expect.arrayContaining([expect.stringMatching(/^[ae]$/)]), ["v", "eq_ref", "PRIMARY"]];

test("on a catalogue of two versions, a batch's lock and change read the versions it names by the primary key, the list first", async () => {
  const pool = db.pool();
  const c = new Catalogue(pool, 0); // purge times now: trashed versions are due at once
  const vs = ["k1", "k2"].map((key, i) => testVersion("plans", key, i + 1));
  for (const v of vs) await c.commit(v);
  const rows = await Promise.all(vs.map((v) => c.version(v.versionId)));

  // Access times: one UPDATE joined to the list (sent on the pool, not a connection: explained as written).
  const times = JSON.stringify(vs.map((v) => [v.versionId, v.createdMs + 1000]));
  const [accessPlan] = await pool.query<RowDataPacket[]>(`EXPLAIN ${ACCESS_TIMES_SQL}`, [times]);
  expect(accessPlan.map((r) => [r.table, r.type, r.key])).toEqual(LIST_THEN_PRIMARY);
  await updateAccessTimes(pool, new Map(vs.map((v) => [v.versionId, v.createdMs + 1000])));

  // A batch of demotions: the lock joined to the list.
  let sent: string[] = [];
  let params: unknown[][] = [];
  const fresh = await Promise.all(vs.map((v) => c.version(v.versionId)));
  const moved = await moveBatch(
    countingPool(pool, sent, params),
    fresh.map((r) => ({
      versionId: r!.versionId,
      expect: { state: "live", tier: "hot", gen: r!.gen, accessedMs: r!.accessedMs },
      to: { tier: "cold", replicas: ["c1"] },
      oldCopies: r!.replicas,
    })),
  );
  expect(moved).toEqual([true, true]);
  const movePlans = await plansOf(sent, params);
  expect(movePlans.length).toBeGreaterThan(0);
  for (const plan of movePlans) expect(plan).toEqual(LIST_THEN_PRIMARY);

  // A batch of purge marks: the lock and the UPDATE, both joined to the list (explained with the
  // batch's clock reading set on the same connection).
  for (const v of vs) await c.markDeleted(v.bucket, v.key);
  const trashed = await Promise.all(rows.map((r) => c.version(r!.versionId)));
  sent = [];
  params = [];
  const marked = await markPurgingBatch(
    countingPool(pool, sent, params),
    trashed.map((r) => ({ versionId: r!.versionId, gen: r!.gen })),
  );
  expect(marked).toEqual([true, true]);
  const purgePlans = await plansOf(sent, params, (sql) => /@purge_at =/.test(sql));
  expect(purgePlans).toHaveLength(2);
  for (const plan of purgePlans) expect(plan).toEqual(LIST_THEN_PRIMARY);
});
