import { Catalogue } from "../../catalogue/catalogue";
import { newTestVersion } from "../../catalogue/testing/new-version";
import { slowQueries } from "../../catalogue/testing/slow-queries";
import { throwawayCatalogueDatabase } from "../../catalogue/testing/throwaway-database";
import { BACKLOG_COST, RepairBacklogRead } from "./repair-backlog";

// /status's repair backlog scans every live hot version: on a large catalogue it is read as often as
// its cost allows, and again at once when the lost nodes change.

const db = throwawayCatalogueDatabase();

test("the backlog is kept a second, read again at once when a node is lost, and kept longer once its scan read many versions", async () => {
  const pool = db.pool();
  await new Catalogue(pool, 60_000).commit(newTestVersion(`rb${process.pid}`, "k", { replicas: ["gone-1", "s2"] }));
  // The backlog's scan takes 300 ms here, as on a busy machine.
  const scan = slowQueries(pool, /AS paced/, 300);
  const queries = new Catalogue(scan.pool, 60_000).rehome;
  const lost: string[] = [];
  const backlog = new RepairBacklogRead(queries, () => [...lost], 2);

  const first = await backlog.get();
  expect(first.lostNodes).toEqual([]);
  expect(await backlog.get()).toBe(first);
  expect(scan.matched()).toBe(1);

  lost.push("gone-1");
  const after = await backlog.get();
  expect(scan.matched()).toBe(2);
  expect(after.lostNodes).toEqual(["gone-1"]);
  expect(after.backlog.versions).toBe(first.backlog.versions + 1);

  // A small catalogue is priced by the versions read, not the 300 ms: read again after the second.
  await new Promise((r) => setTimeout(r, 1_050));
  await backlog.get();
  expect(scan.matched()).toBe(3);

  // Priced at a second a version, the same scan is kept past it.
  const dear = new RepairBacklogRead(queries, () => [...lost], 2, { ...BACKLOG_COST, costMs: (r) => r.backlog.scanned * 1_000 });
  const kept = await dear.get();
  expect(kept.backlog.scanned).toBeGreaterThan(0);
  await new Promise((r) => setTimeout(r, 1_050));
  expect(await dear.get()).toBe(kept);
  expect(scan.matched()).toBe(4);
});
