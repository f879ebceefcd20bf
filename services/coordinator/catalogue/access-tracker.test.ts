import { silentLog } from "../../rpc/testing/test-helpers";
import { AccessTracker } from "./access-tracker";
import { Catalogue, type NewVersion } from "./catalogue";
import { newTestVersion } from "./testing/new-version";
import { throwawayCatalogueDatabase } from "./testing/throwaway-database";

// Reads' access times against the real catalogue: a read of a version whose access time is recent
// is held (one row change per slack, not one a second), but never lost, and always seen here.

const db = throwawayCatalogueDatabase();
let catalogue: Catalogue;
beforeAll(() => {
  catalogue = new Catalogue(db.pool(), 60_000);
});

let seq = 0;
async function uploaded(createdMs: number): Promise<NewVersion> {
  const v = newTestVersion(`a${process.pid}-${++seq}`, "k", { createdMs });
  await catalogue.commit(v);
  return v;
}

const recorded = async (v: NewVersion) => (await catalogue.current(v.bucket, v.key, true))!.accessedMs;

test("reads of a version uploaded within the slack are held, seen by lastSeen, and written once the slack has passed", async () => {
  const slack = 10_000;
  const tracker = new AccessTracker(catalogue, 1000, silentLog, slack);
  const t0 = Date.now();
  const v = await uploaded(t0);
  tracker.touch(v.versionId, t0, t0 + 100);
  tracker.touch(v.versionId, t0, t0 + 300);
  await tracker.flush(false, t0 + 1000);
  expect(await recorded(v)).toBe(t0); // nothing written yet
  expect(tracker.lastSeen(v.versionId)).toBe(t0 + 300);

  // The slack passed since the catalogue's time: the newest read is written, and no longer held.
  await tracker.flush(false, t0 + slack);
  expect(await recorded(v)).toBe(t0 + 300);
  expect(tracker.lastSeen(v.versionId)).toBeUndefined();
});

test("a read of a version whose access time is older than the slack is written at the next flush", async () => {
  const tracker = new AccessTracker(catalogue, 1000, silentLog, 10_000);
  const old = Date.now() - 60_000;
  const v = await uploaded(old);
  const now = Date.now();
  tracker.touch(v.versionId, old, now);
  await tracker.flush(false, now);
  expect(await recorded(v)).toBe(now);
});

test("stopping writes every read held; without a slack each is written at the next flush (the tests' short hot TTLs)", async () => {
  const t0 = Date.now();
  const held = new AccessTracker(catalogue, 1000, silentLog, 10_000);
  const a = await uploaded(t0);
  held.touch(a.versionId, t0, t0 + 50);
  await held.stop();
  expect(await recorded(a)).toBe(t0 + 50);

  const noSlack = new AccessTracker(catalogue, 1000, silentLog);
  const b = await uploaded(t0);
  noSlack.touch(b.versionId, t0, t0 + 70);
  await noSlack.flush(false, t0 + 70);
  expect(await recorded(b)).toBe(t0 + 70);
});

test("past maxHeld reads held, a flush writes them all: memory stays bounded however widely the catalogue is read", async () => {
  const t0 = Date.now();
  const tracker = new AccessTracker(catalogue, 1000, silentLog, 10_000, 2);
  const vs = [await uploaded(t0), await uploaded(t0), await uploaded(t0)];
  for (const [i, v] of vs.slice(0, 2).entries()) tracker.touch(v.versionId, t0, t0 + 10 + i);
  await tracker.flush(false, t0 + 20);
  expect(await recorded(vs[0])).toBe(t0); // two held: within the bound
  tracker.touch(vs[2].versionId, t0, t0 + 30);
  await tracker.flush(false, t0 + 40);
  expect(await Promise.all(vs.map(recorded))).toEqual([t0 + 10, t0 + 11, t0 + 30]);
});
