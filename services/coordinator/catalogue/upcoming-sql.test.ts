import type { RowDataPacket } from "mysql2/promise";
import { Catalogue, type NewVersion } from "./catalogue";
import { newTestVersion } from "./testing/new-version";
import { throwawayCatalogueDatabase } from "./testing/throwaway-database";

// The upcoming transitions against the real MariaDB, in a database of its own (the list is
// cluster-wide: another file's rows would be in it).

const TRASH_TTL = 60_000;
const HOT_TTL = 10_000;
const db = throwawayCatalogueDatabase();

const upload = (key: string, createdMs: number): NewVersion => newTestVersion("b", key, { createdMs });

test("lists demotions, trash moves and purges soonest first, at most `limit`, each with its due time", async () => {
  const c = new Catalogue(db.pool(), TRASH_TTL);
  const now = await c.clock.now();
  const [old, young, gone] = [upload("old", now - 5000), upload("young", now), upload("gone", now - 1000)];
  for (const v of [old, young, gone]) await c.commit(v);
  const deleted = (await c.markDeleted("b", "gone"))!;

  const list = await c.upcoming(HOT_TTL, 10);
  expect(list).toEqual([
    // the delete's trash move is due at the delete: first
    { transition: "trash", dueAtMs: deleted.deletedMs, bucket: "b", key: "gone", versionId: gone.versionId, size: 4, tier: "hot" },
    { transition: "demote", dueAtMs: now - 5000 + HOT_TTL, bucket: "b", key: "old", versionId: old.versionId, size: 3, tier: "hot" },
    { transition: "demote", dueAtMs: now + HOT_TTL, bucket: "b", key: "young", versionId: young.versionId, size: 5, tier: "hot" },
    { transition: "purge", dueAtMs: deleted.purgeMs, bucket: "b", key: "gone", versionId: gone.versionId, size: 4, tier: "hot" },
  ]);
  expect(await c.upcoming(HOT_TTL, 2)).toEqual(list.slice(0, 2));
});

test("each part is an index range read stopped at the limit (EXPLAIN), however many rows there are", async () => {
  const c = new Catalogue(db.pool(), TRASH_TTL);
  let sql = "";
  let params: unknown[] = [];
  const spy = {
    query: async (s: string, p: unknown[]) => {
      sql = s;
      params = p;
      return [[]];
    },
  };
  const { selectUpcoming } = await import("./upcoming-sql");
  await selectUpcoming(spy as never, HOT_TTL, 20);
  const [plan] = await db.pool().query<RowDataPacket[]>(`EXPLAIN ${sql}`, params);
  const parts = plan.filter((r) => r.table === "v");
  expect(parts.map((r) => r.key)).toEqual(["versions_by_tier", "versions_by_tier", "versions_by_tier", "versions_by_purge"]);
  for (const r of parts) {
    expect(r.type).not.toBe("ALL");
    expect(String(r.Extra)).not.toContain("filesort");
  }
  expect(await c.upcoming(HOT_TTL, 20)).toBeInstanceOf(Array);
});
