import { silentLog } from "../../rpc/testing/test-helpers";
import { Catalogue } from "../catalogue/catalogue";
import { newTestVersion } from "../catalogue/testing/new-version";
import { slowQueries } from "../catalogue/testing/slow-queries";
import { throwawayCatalogueDatabase } from "../catalogue/testing/throwaway-database";
import { Reconciler } from "./reconciler";
import type { Scheduler } from "./scheduler";

// The reconciler's backstop scans read the whole table; on a large catalogue they wait a multiple of
// their length before the next. A lost node's copies are looked for every run.

const db = throwawayCatalogueDatabase();

test("backstop scans of a second or more wait 20 times their length, while a lost node's copies are queued every run", async () => {
  const pool = db.pool();
  const fast = new Catalogue(pool, 60_000);
  const v = newTestVersion(`r${process.pid}`, "k", { replicas: ["lost-1", "s2"] });
  await fast.commit(v);
  await pool.query("UPDATE versions SET cleanup = 'old-9' WHERE version_id = ?", [v.versionId]);

  // The leftover-copies scan takes 1.05 s here, as over ~1,000,000 versions.
  const scan = slowQueries(pool, /cleanup <> ''/, 1050);
  const queued: string[] = [];
  const scheduler = { add: (queue: string, id: string) => void queued.push(`${queue} ${id}`) } as unknown as Scheduler;
  const lost: string[] = [];
  const reconciler = new Reconciler(new Catalogue(scan.pool, 60_000), scheduler, 2, silentLog, () => lost);

  expect(await reconciler.run()).toEqual({ cleanup: 1, repair: 0 });
  expect(queued).toEqual([`cleanup ${v.versionId}`]);

  lost.push("lost-1");
  expect(await reconciler.run()).toEqual({ cleanup: 0, repair: 1 });
  expect(queued.slice(1)).toEqual([`repair ${v.versionId}`]);
  expect(scan.matched()).toBe(1);

  // A quick scan is taken every run.
  const quick = new Reconciler(fast, scheduler, 2, silentLog, () => []);
  expect((await quick.run()).cleanup).toBe(1);
  expect((await quick.run()).cleanup).toBe(1);
});
