import { Catalogue } from "../../catalogue/catalogue";
import { newTestVersion } from "../../catalogue/testing/new-version";
import { slowQueries } from "../../catalogue/testing/slow-queries";
import { throwawayCatalogueDatabase } from "../../catalogue/testing/throwaway-database";
import { RepairBacklogRead } from "./repair-backlog";

// /status's repair backlog scans every live hot version: on a large catalogue it is read as often as
// its cost allows, and again at once when the lost nodes change.

const db = throwawayCatalogueDatabase();

test("a slow backlog scan is kept, a lost node read again at once", async () => {
  const pool = db.pool();
  await new Catalogue(pool, 60_000).commit(newTestVersion(`rb${process.pid}`, "k", { replicas: ["gone-1", "s2"] }));
  // The backlog's scan takes 300 ms here, as over ~300,000 versions.
  const scan = slowQueries(pool, /AS paced/, 300);
  const lost: string[] = [];
  const backlog = new RepairBacklogRead(new Catalogue(scan.pool, 60_000).rehome, () => [...lost], 2);

  const first = await backlog.get();
  expect(first.lostNodes).toEqual([]);
  const kept = await backlog.get();
  expect(kept).toBe(first);
  expect(scan.matched()).toBe(1);

  lost.push("gone-1");
  const after = await backlog.get();
  expect(scan.matched()).toBe(2);
  expect(after.lostNodes).toEqual(["gone-1"]);
  expect(after.backlog.versions).toBe(first.backlog.versions + 1);
});
