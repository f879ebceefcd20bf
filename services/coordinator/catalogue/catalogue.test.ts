import { createPool, type Pool, type RowDataPacket } from "mysql2/promise";
import { CONNECTION_OPTIONS } from "../../common/db/pool";
import { ErrorCode, MiniS3Error } from "../../common/errors";
import { newVersionId } from "../../common/ids";
import type { VersionRow } from "../model/version-row";
import { Catalogue, isTakenOver, TIER_TOTALS_COST, type NewVersion } from "./catalogue";
import { DUE_SCANS, START_CURSOR, type DueScan } from "./lifecycle-queries";
import { ReadCache } from "./read-cache";
import { keyChangeBatch, keyChangeFits, markPurgingBatch, moveBatch, updateAccessTimes, type TierMove } from "./versions-sql";
import { slowQueries } from "./testing/slow-queries";
import { countingPool, statementsOf } from "./testing/statement-capture";
import { throwawayCatalogueDatabase } from "./testing/throwaway-database";

// The catalogue against the real MariaDB, in a database of its own dropped at the end. Each test
// uses buckets of its own, so tests do not see each other's rows.

const TTL = 60_000;
const db = throwawayCatalogueDatabase();
let pool: Pool;
beforeAll(() => {
  pool = db.pool();
});

let bucketSeq = 0;
const newBucket = () => `b${process.pid}-${++bucketSeq}`;

function upload(bucket: string, key: string, over: Partial<NewVersion> = {}): NewVersion {
  return {
    versionId: newVersionId(),
    bucket,
    key,
    size: 5,
    sha256: "a".repeat(64),
    etag: "b".repeat(32),
    contentType: "text/plain",
    metadata: {},
    replicas: ["s1", "s2", "s3"],
    createdMs: Date.now(),
    ...over,
  };
}

/** A version of key "k" committed in a new bucket. */
async function committed(c: Catalogue): Promise<{ b: string; v: NewVersion }> {
  const b = newBucket();
  const v = upload(b, "k");
  await c.commit(v);
  return { b, v };
}

/** Key "k" in a new bucket with a deleted version, and a newer one visible. */
async function trashedUnderCurrent(c: Catalogue): Promise<{ b: string; trashed: VersionRow; cur: NewVersion }> {
  const { b } = await committed(c);
  const trashed = (await c.markDeleted(b, "k"))!;
  const cur = upload(b, "k");
  await c.commit(cur);
  return { b, trashed, cur };
}

/** A catalogue whose read cache answers (this coordinator is alone). */
function cachedCatalogue(): { cat: Catalogue; cache: ReadCache } {
  const cache = new ReadCache(1 << 20, () => 1);
  return { cat: new Catalogue(pool, TTL, cache), cache };
}

async function stateOf(versionId: string): Promise<{ state: string; tier: string; reason: string | null } | undefined> {
  const [rows] = await pool.query<RowDataPacket[]>("SELECT state, tier, reason FROM versions WHERE version_id = ?", [versionId]);
  return rows[0] ? { state: rows[0].state, tier: rows[0].tier, reason: rows[0].reason } : undefined;
}

describe("commits and lookups", () => {
  const cat = () => new Catalogue(pool, TTL);

  it("makes a version visible with the fields it was given", async () => {
    const c = cat();
    const b = newBucket();
    const v = upload(b, "k", { metadata: { colour: "blue" }, contentType: "image/png" });
    expect(await c.commit(v)).toEqual({ replaced: [] });
    const row = await c.current(b, "k");
    expect(row).toMatchObject({
      versionId: v.versionId,
      bucket: b,
      key: "k",
      size: 5,
      contentType: "image/png",
      metadata: { colour: "blue" },
      state: "live",
      tier: "hot",
      replicas: ["s1", "s2", "s3"],
      cleanup: [],
      accessedMs: v.createdMs,
      deletedMs: null,
    });
    expect(await c.version(v.versionId)).toEqual(row);
    expect(await c.current(b, "other")).toBeNull();
  });

  it("commits the rest of a batch when MariaDB refuses one of its uploads (review finding 4)", async () => {
    const c = cat();
    const b = newBucket();
    // Submitted together, so they share one batch; the bad one's content type overflows VARCHAR(255).
    const good = Array.from({ length: 10 }, (_, i) => upload(b, `k${i}`));
    const bad = upload(b, "bad", { contentType: "x/" + "a".repeat(300) });
    const outcomes = await Promise.all(
      [...good.slice(0, 5), bad, ...good.slice(5)].map((v) =>
        c.commit(v).then(
          () => "ok",
          (e: { code?: string }) => e.code,
        ),
      ),
    );
    expect(outcomes).toEqual([...Array(5).fill("ok"), "ER_DATA_TOO_LONG", ...Array(5).fill("ok")]);
    for (const v of good) expect((await c.current(b, v.key, true))?.versionId).toBe(v.versionId);
    expect(await c.current(b, "bad", true)).toBeNull();
    expect(await c.version(bad.versionId)).toBeNull();
  });

  it("sends the key's previous version to the trash on overwrite", async () => {
    const c = cat();
    const b = newBucket();
    const first = upload(b, "k");
    await c.commit(first);
    const second = upload(b, "k");
    expect(await c.commit(second)).toEqual({ replaced: [first.versionId] });
    const old = (await c.version(first.versionId))!;
    expect(old).toMatchObject({ state: "trash", reason: "overwritten" });
    expect(old.purgeMs! - old.deletedMs!).toBe(TTL);
    expect((await c.current(b, "k"))!.versionId).toBe(second.versionId);
  });

  it("lets the last upload of a key in one batch win; the others go to the trash", async () => {
    const c = cat();
    const b = newBucket();
    const before = upload(b, "k");
    await c.commit(before);
    // Submitted in one turn: one batch (one transaction).
    const [x, y, z] = [upload(b, "k"), upload(b, "k"), upload(b, "k")];
    const other = upload(b, "other");
    const [rx, ry, rz, ro] = await Promise.all([c.commit(x), c.commit(y), c.commit(z), c.commit(other)]);
    expect(rx.replaced).toEqual([]);
    expect(ry.replaced).toEqual([]);
    expect([...rz.replaced].sort()).toEqual([before.versionId, x.versionId, y.versionId].sort());
    expect(ro.replaced).toEqual([]);
    expect((await c.current(b, "k"))!.versionId).toBe(z.versionId);
    for (const id of [before.versionId, x.versionId, y.versionId]) {
      expect(await stateOf(id)).toEqual({ state: "trash", tier: "hot", reason: "overwritten" });
    }
    expect((await c.current(b, "other"))!.versionId).toBe(other.versionId);
  });

  it("names every version a key-change batch replaced, per winning upload, on a connection new or reused", async () => {
    // The commit's UPDATE names the rows it trashes itself (versions-sql.ts REPLACED_SQL): on a
    // connection that never ran a batch, then on the same one again (nothing left from before).
    const [{ db }] = (await pool.query<RowDataPacket[]>("SELECT DATABASE() AS db"))[0] as RowDataPacket[];
    const fresh = createPool({
      ...CONNECTION_OPTIONS,
      host: "127.0.0.1",
      port: 3306,
      user: "root",
      database: db,
      connectionLimit: 1,
      multipleStatements: true,
    });
    try {
      const c = cat();
      const [b1, b2] = [newBucket(), newBucket()];
      const odd = "a b/\u00e9 ";
      const [k1, j1, odd1, k2, gone] = [upload(b1, "k"), upload(b1, "j"), upload(b1, odd), upload(b2, "k"), upload(b2, "gone")];
      for (const v of [k1, j1, odd1, k2, gone]) await c.commit(v);
      // A second live version of b1/k with no objects row (what review finding 12 once left): found by key too.
      const orphan = upload(b1, "k");
      await pool.query(
        `INSERT INTO versions (version_id, bucket, object_key, size, sha256, etag, content_type, metadata, state, tier, replicas, created_ms, accessed_ms)
         SELECT ?, bucket, object_key, size, sha256, etag, content_type, metadata, state, tier, replicas, created_ms, accessed_ms FROM versions WHERE version_id = ?`,
        [orphan.versionId, k1.versionId],
      );
      const [x, y, z, o, w, n] = [upload(b1, "k"), upload(b1, "k"), upload(b1, "j"), upload(b1, odd), upload(b2, "k"), upload(b1, "new")];
      const commit = (v: NewVersion) => ({ kind: "commit" as const, version: { ...v, requestId: null } });
      const out = await keyChangeBatch(
        fresh,
        [
          commit(x),
          commit(y),
          commit(z),
          commit(o),
          commit(w),
          commit(n),
          { kind: "delete", key: { bucket: b2, key: "gone", requestId: null } },
        ],
        Date.now(),
        TTL,
      );
      const replaced = out.slice(0, 6).map((r) => [...(r as { replaced: string[] }).replaced].sort());
      expect(replaced).toEqual([
        [],
        [x.versionId, k1.versionId, orphan.versionId].sort(),
        [j1.versionId],
        [odd1.versionId],
        [k2.versionId],
        [],
      ]);
      expect((out[6] as VersionRow).versionId).toBe(gone.versionId);
      for (const id of [x.versionId, k1.versionId, orphan.versionId, j1.versionId, odd1.versionId, k2.versionId]) {
        expect(await stateOf(id)).toEqual({ state: "trash", tier: "hot", reason: "overwritten" });
      }
      // The same connection again: a batch that replaces nothing names nothing, then one that does.
      expect(await keyChangeBatch(fresh, [commit(upload(b1, "newer"))], Date.now(), TTL)).toEqual([{ replaced: [] }]);
      const again = upload(b2, "k");
      expect(await keyChangeBatch(fresh, [commit(again)], Date.now(), TTL)).toEqual([{ replaced: [w.versionId] }]);
    } finally {
      await fresh.end();
    }
  });

  it("answers concurrent lookups of many keys, with null for missing ones", async () => {
    const c = cat();
    const [b1, b2] = [newBucket(), newBucket()];
    const v1 = upload(b1, "a");
    const v2 = upload(b2, "a");
    await Promise.all([c.commit(v1), c.commit(v2)]);
    const got = await Promise.all([c.current(b1, "a"), c.current(b2, "a"), c.current(b1, "missing"), c.current(b1, "a")]);
    expect(got.map((r) => r?.versionId ?? null)).toEqual([v1.versionId, v2.versionId, null, v1.versionId]);
    const byId = await Promise.all([c.version(v2.versionId), c.version("f".repeat(28)), c.version(v1.versionId)]);
    expect(byId.map((r) => r?.versionId ?? null)).toEqual([v2.versionId, null, v1.versionId]);
  });

  it("lists visible keys by prefix in byte order, LIKE wildcards taken literally", async () => {
    const c = cat();
    const b = newBucket();
    for (const key of ["p%/2", "p%/1", "pX/1", "p_/1", "q/1", "p%/3"]) await c.commit(upload(b, key));
    const keys = async (prefix: string, after: string, limit: number) => (await c.list(b, prefix, after, limit)).map((r) => r.key);
    expect(await keys("p%", "", 10)).toEqual(["p%/1", "p%/2", "p%/3"]);
    expect(await keys("p%", "p%/1", 1)).toEqual(["p%/2"]);
    expect(await keys("p_", "", 10)).toEqual(["p_/1"]);
    expect(await keys("", "", 10)).toEqual(["p%/1", "p%/2", "p%/3", "pX/1", "p_/1", "q/1"]);
  });

  it("lists restorable versions and finds a key's latest one", async () => {
    const c = cat();
    const b = newBucket();
    // Version ids sort by creation time.
    const older = upload(b, "k", { versionId: newVersionId(Date.now() - 1000) });
    await c.commit(older);
    const deleted1 = (await c.markDeleted(b, "k"))!;
    const newer = upload(b, "k");
    await c.commit(newer);
    const deleted2 = (await c.markDeleted(b, "k"))!;
    const now = Date.now();
    expect((await c.listTrash(b, "", now, "", 10)).map((r) => r.versionId)).toEqual([older.versionId, newer.versionId]);
    expect((await c.listTrash(b, "", now, older.versionId, 10)).map((r) => r.versionId)).toEqual([newer.versionId]);
    expect((await c.latestTrash(b, "k"))!.versionId).toBe(newer.versionId);
    // Past their purge time they are no longer restorable.
    expect(await c.listTrash(b, "", deleted2.purgeMs!, "", 10)).toEqual([]);
    await pool.query("UPDATE versions SET purge_ms = deleted_ms WHERE version_id IN (?, ?)", [deleted1.versionId, deleted2.versionId]);
    expect(await c.latestTrash(b, "k")).toBeNull();
  });

  // Review finding 19 (`latestTrash` order): which version an undelete brings back is decided by
  // delete times, written on the catalogue's clock (MariaDB's), so two coordinators whose clocks
  // disagree by days still order their deletes as they happened.
  // Each coordinator carries its own reading of MariaDB's clock forward (catalogue-clock.ts), so two
  // readings differ by some ms on a loaded machine: an undelete and then a delete sent through
  // different coordinators ms apart were ordered the wrong way round, and the next undelete brought
  // back the version trashed first (test/integration/lifecycle-races.test.ts, 2 rounds of 621).
  it("orders deletes ms apart through two coordinators whose clock readings differ as they happened", async () => {
    const ahead = new Catalogue(pool, TTL);
    const exact = new Catalogue(pool, TTL);
    jest.spyOn(ahead.clock, "now").mockImplementation(async () => Date.now() + 200);
    const b = newBucket();
    const first = upload(b, "k");
    const second = upload(b, "k");
    await ahead.commit(first);
    await ahead.markDeleted(b, "k");
    await exact.commit(second);
    await exact.markDeleted(b, "k");
    expect((await exact.latestTrash(b, "k"))!.versionId).toBe(second.versionId);
  });

  it("orders deletes from two coordinators whose clocks are days apart as they happened", async () => {
    const ahead = new Catalogue(pool, TTL);
    const behind = new Catalogue(pool, TTL);
    const b = newBucket();
    const first = upload(b, "k");
    const second = upload(b, "k");
    const wall = Date.now();
    const clock = jest.spyOn(Date, "now");
    try {
      clock.mockImplementation(() => wall + 2 * 86_400_000);
      await ahead.commit(first);
      const d1 = (await ahead.markDeleted(b, "k"))!;
      clock.mockImplementation(() => wall - 2 * 86_400_000);
      await behind.commit(second);
      const d2 = (await behind.markDeleted(b, "k"))!;
      clock.mockRestore();
      expect(d2.deletedMs!).toBeGreaterThanOrEqual(d1.deletedMs!);
      for (const d of [d1, d2]) expect(Math.abs(d.purgeMs! - TTL - wall)).toBeLessThan(60_000);
      expect((await behind.latestTrash(b, "k"))!.versionId).toBe(second.versionId);
      expect((await ahead.latestTrash(b, "k"))!.versionId).toBe(second.versionId);
    } finally {
      clock.mockRestore();
    }
  });

  it("counts objects and bytes per tier", async () => {
    const c = cat();
    const b = newBucket();
    const before = await c.tierTotals();
    await c.commit(upload(b, "a", { size: 100 }));
    await c.commit(upload(b, "b", { size: 10 }));
    await c.markDeleted(b, "b");
    const after = await c.tierTotals();
    const delta = (tier: string) => {
      const [x, y] = [before.find((t) => t.tier === tier)!, after.find((t) => t.tier === tier)!];
      return { objects: y.objects - x.objects, bytes: y.bytes - x.bytes };
    };
    expect(after.map((t) => t.tier)).toEqual(["hot", "cold", "trash"]);
    expect(delta("hot")).toEqual({ objects: 1, bytes: 100 });
    expect(delta("trash")).toEqual({ objects: 1, bytes: 10 });
  });

  it("prices the tier totals by the versions they count: a slow scan of a small catalogue is read fresh, callers at once share one", async () => {
    // A pool on which the totals' scan takes 300 ms, as on a busy machine.
    const scan = slowQueries(pool, /GROUP BY t/, 300);
    const slow = new Catalogue(scan.pool, TTL);
    const [first, alsoFirst] = await Promise.all([slow.tierTotals(), slow.tierTotals()]);
    expect(alsoFirst).toEqual(first);
    expect(scan.matched()).toBe(1);
    await cat().commit(upload(newBucket(), "a", { size: 100 }));
    const again = await slow.tierTotals();
    expect(scan.matched()).toBe(2);
    expect(again.find((t) => t.tier === "hot")!.objects).toBe(first.find((t) => t.tier === "hot")!.objects + 1);
  });

  it("keeps the tier totals of 250,000 versions or more for 20 times their scan's price, ~1 µs a version", () => {
    const totals = (objects: number) => [
      { tier: "hot", objects, bytes: 0 },
      { tier: "cold", objects: 0, bytes: 0 },
      { tier: "trash", objects: 0, bytes: 0 },
    ];
    const price = (objects: number) => TIER_TOTALS_COST.costMs!(totals(objects), 5_000);
    expect(price(1_000_000)).toBe(1_000);
    expect(price(249_999)).toBeLessThan(TIER_TOTALS_COST.freeBelowMs);
    expect(price(250_000)).toBeGreaterThanOrEqual(TIER_TOTALS_COST.freeBelowMs);
    expect(TIER_TOTALS_COST.costFactor).toBe(20);
  });
});

describe("deletes and restores", () => {
  const cat = () => new Catalogue(pool, TTL);

  it("moves a key's visible version to the trash, once", async () => {
    const c = cat();
    const { b, v } = await committed(c);
    const deleted = await c.markDeleted(b, "k");
    expect(deleted).toMatchObject({ versionId: v.versionId, state: "trash", reason: "deleted" });
    expect(deleted!.purgeMs! - deleted!.deletedMs!).toBe(TTL);
    expect(await c.version(v.versionId)).toEqual(deleted);
    expect(await c.current(b, "k")).toBeNull();
    expect(await c.markDeleted(b, "k")).toBeNull();
  });

  it("trashes only each key's visible version: its earlier versions, and the same key in another bucket, stay as they were", async () => {
    const c = cat();
    const { b, trashed, cur } = await trashedUnderCurrent(c); // k: deleted once, then uploaded again
    const first = upload(b, "j");
    await c.commit(first);
    const overwritten = upload(b, "j");
    await c.commit(overwritten); // j: its first version overwritten
    const other = newBucket();
    const elsewhere = upload(other, "k");
    await c.commit(elsewhere);
    const before = [await c.version(trashed.versionId), await c.version(first.versionId)];
    expect(before.map((v) => v?.state)).toEqual(["trash", "trash"]);
    const got = await Promise.all([c.markDeleted(b, "k"), c.markDeleted(b, "j")]); // one batch
    expect(got.map((v) => v?.versionId)).toEqual([cur.versionId, overwritten.versionId]);
    expect([await c.version(trashed.versionId), await c.version(first.versionId)]).toEqual(before);
    expect(await c.current(other, "k")).toMatchObject({ versionId: elsewhere.versionId, state: "live" });
  });

  it("trashes a key's version for a delete naming it only while it is the visible one, in a batch with plain deletes", async () => {
    const c = cat();
    const b = newBucket();
    const [named, old, replaced, plain, other] = [
      upload(b, "named"),
      upload(b, "old"),
      upload(b, "old"),
      upload(b, "plain"),
      upload(b, "other"),
    ];
    for (const v of [named, old, replaced, plain, other]) await c.commit(v);
    const del = (key: string, onlyVersion?: string) => ({ kind: "delete" as const, key: { bucket: b, key, requestId: null, onlyVersion } });
    const out = await keyChangeBatch(
      pool,
      // "other" names a version of "named", the version "named" names: neither key's is taken for the other's.
      [del("named", named.versionId), del("old", old.versionId), del("plain"), del("other", named.versionId), del("none", old.versionId)],
      Date.now(),
      TTL,
    );
    expect(out.map((r) => (r as VersionRow | null)?.versionId ?? null)).toEqual([named.versionId, null, plain.versionId, null, null]);
    // The ones not named stay visible; the named old version stays in the trash as it was.
    expect((await c.current(b, "old", true))?.versionId).toBe(replaced.versionId);
    expect((await c.current(b, "other", true))?.versionId).toBe(other.versionId);
    expect(await c.current(b, "named", true)).toBeNull();
    expect((await c.version(old.versionId))?.reason).toBe("overwritten");
    // Through the grouped path: the named one, then (not named any more) nothing.
    expect((await c.markDeleted(b, "old", undefined, replaced.versionId))?.versionId).toBe(replaced.versionId);
    expect(await c.markDeleted(b, "other", undefined, replaced.versionId)).toBeNull();
  });

  it("keeps a delete naming a version out of a batch holding another delete of its key", () => {
    const del = (key: string, onlyVersion?: string) => ({
      kind: "delete" as const,
      key: { bucket: "b", key, requestId: null, onlyVersion },
    });
    expect(keyChangeFits([del("k")], del("k"))).toBe(true);
    expect(keyChangeFits([del("k")], del("k", "v"))).toBe(false);
    expect(keyChangeFits([del("k", "v")], del("k"))).toBe(false);
    expect(keyChangeFits([del("k", "v")], del("j", "w"))).toBe(true);
  });

  it("commits a multipart Complete's version only while its upload is still its own, in a batch with plain commits", async () => {
    const c = cat();
    const b = newBucket();
    const begun = async (key: string) => {
      const uploadId = newVersionId();
      await c.multipart.create({ uploadId, bucket: b, key, contentType: "", metadata: {}, createdMs: 1000 });
      await c.multipart.putPart({
        uploadId,
        partNumber: 1,
        size: 1,
        etag: "c".repeat(32),
        sha256: "d".repeat(64),
        blobId: newVersionId(),
        replicas: ["s1"],
        createdMs: 1,
      });
      expect((await c.multipart.beginComplete(uploadId, 2000, 0)).began).toBe(true);
      return uploadId;
    };
    const [mine, takenOver] = [await begun("mine"), await begun("taken")];
    expect((await c.multipart.beginComplete(takenOver, 3000, 2500)).began).toBe(true); // taken over: state_ms 3000
    const [ok, lost, plain] = [upload(b, "mine"), upload(b, "taken"), upload(b, "plain")];
    const got = await Promise.allSettled([
      c.commit(ok, undefined, { uploadId: mine, stateMs: 2000 }),
      c.commit(lost, undefined, { uploadId: takenOver, stateMs: 2000 }),
      c.commit(plain),
    ]);
    expect(got.map((r) => (r.status === "rejected" ? isTakenOver(r.reason) : r.value))).toEqual([{ replaced: [] }, true, { replaced: [] }]);
    expect(await c.multipart.upload(mine)).toMatchObject({ state: "completed", versionId: ok.versionId, etag: ok.etag });
    expect(await c.multipart.parts(mine, 0, 10)).toEqual([]);
    expect(await c.multipart.upload(takenOver)).toMatchObject({ state: "completing", stateMs: 3000, versionId: null });
    expect(await c.multipart.parts(takenOver, 0, 10)).toHaveLength(1);
    expect([await c.version(lost.versionId), (await c.current(b, "plain", true))?.versionId]).toEqual([null, plain.versionId]);
    // Its own again (by the time the takeover marked), the upload reopens; by another's, it does not.
    expect(await c.multipart.reopen(takenOver, 4000, 2000)).toBe(false);
    expect(await c.multipart.reopen(takenOver, 4000, 3000)).toBe(true);
  });

  it("gives a key deleted twice in one batch to one of the deletes", async () => {
    const c = cat();
    const { b, v } = await committed(c);
    const got = await Promise.all([c.markDeleted(b, "k"), c.markDeleted(b, "k"), c.markDeleted(b, "none")]);
    expect(got.map((r) => r?.versionId ?? null)).toEqual([v.versionId, null, null]);
  });

  it("sends commits and deletes that gather as one transaction, a key's commit and delete in the order they came", async () => {
    let transactions = 0;
    const counting = new Proxy(pool, {
      get(target, prop) {
        if (prop === "getConnection") return () => (transactions++, target.getConnection());
        const value: unknown = Reflect.get(target, prop);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const c = new Catalogue(counting, TTL);
    const b = newBucket();
    const old = ["d1", "d2", "same"].map((k) => upload(b, k));
    await Promise.all(old.map((v) => c.commit(v)));
    transactions = 0;
    const n1 = upload(b, "n1");
    const [, d1, , d2] = await Promise.all([c.commit(n1), c.markDeleted(b, "d1"), c.commit(upload(b, "n2")), c.markDeleted(b, "d2")]);
    expect(transactions).toBe(1);
    expect([d1?.versionId, d2?.versionId]).toEqual([old[0].versionId, old[1].versionId]);
    expect((await c.current(b, "n1", true))?.versionId).toBe(n1.versionId);
    expect(await c.current(b, "d1", true)).toBeNull();

    // A key deleted then committed, and one committed then deleted, in one gathering: the second
    // change of each waits for the next batch, and finds what the first made.
    const later = upload(b, "same");
    const gone = upload(b, "gone");
    const [sameDeleted, , , goneDeleted] = await Promise.all([
      c.markDeleted(b, "same"),
      c.commit(later),
      c.commit(gone),
      c.markDeleted(b, "gone"),
    ]);
    expect(sameDeleted?.versionId).toBe(old[2].versionId);
    expect(goneDeleted?.versionId).toBe(gone.versionId);
    expect((await c.current(b, "same", true))?.versionId).toBe(later.versionId);
    expect(await c.current(b, "gone", true)).toBeNull();
  });

  it("restores a trash version, sending the key's current one to the trash", async () => {
    const c = cat();
    const { b, trashed, cur } = await trashedUnderCurrent(c);
    const now = Date.now();
    expect(await c.restore(trashed, ["s4"], ["s1"], now)).toEqual({ restored: true, replaced: cur.versionId });
    expect(await c.current(b, "k")).toMatchObject({
      versionId: trashed.versionId,
      state: "live",
      tier: "hot",
      replicas: ["s4"],
      cleanup: ["s1"],
      accessedMs: now,
      deletedMs: null,
      purgeMs: null,
      reason: null,
    });
    expect(await stateOf(cur.versionId)).toEqual({ state: "trash", tier: "hot", reason: "overwritten" });
  });

  it("does not restore a version whose bytes moved since it was read", async () => {
    const c = cat();
    const { b } = await committed(c);
    const trashed = (await c.markDeleted(b, "k"))!;
    expect(
      await c.moveTier(
        trashed.versionId,
        { state: "trash", tier: "hot", gen: trashed.gen },
        { tier: "trash", replicas: ["t1"] },
        trashed.replicas,
      ),
    ).toBe(true);
    expect(await c.restore(trashed, ["s4"], [], Date.now())).toEqual({ restored: false, replaced: null });
    expect(await stateOf(trashed.versionId)).toEqual({ state: "trash", tier: "trash", reason: "deleted" });
    expect(await c.current(b, "k")).toBeNull();
  });

  it("lets exactly one of a restore and a trash move racing on a version win", async () => {
    const c = cat();
    for (let round = 0; round < 5; round++) {
      const { b } = await committed(c);
      const trashed = (await c.markDeleted(b, "k"))!;
      const [restore, moved] = await Promise.all([
        c.restore(trashed, trashed.replicas, [], Date.now()),
        c.moveTier(
          trashed.versionId,
          { state: "trash", tier: "hot", gen: trashed.gen },
          { tier: "trash", replicas: ["t1"] },
          trashed.replicas,
        ),
      ]);
      expect(restore.restored).toBe(!moved);
      expect(await stateOf(trashed.versionId)).toEqual(
        moved ? { state: "trash", tier: "trash", reason: "deleted" } : { state: "live", tier: "hot", reason: null },
      );
    }
  });

  it("restores a version once when two restores race", async () => {
    const c = cat();
    const { b } = await committed(c);
    const trashed = (await c.markDeleted(b, "k"))!;
    const got = await Promise.all([c.restore(trashed, ["s1"], [], Date.now()), c.restore(trashed, ["s2"], [], Date.now())]);
    expect(got.filter((r) => r.restored)).toHaveLength(1);
    expect((await c.current(b, "k"))!.versionId).toBe(trashed.versionId);
  });

  it("leaves one consistent outcome when a delete and a restore of the same key race", async () => {
    const c = cat();
    for (let round = 0; round < 5; round++) {
      const { b, trashed, cur } = await trashedUnderCurrent(c);
      const [deleted, restore] = await Promise.all([c.markDeleted(b, "k"), c.restore(trashed, ["s1"], [], Date.now())]);
      expect(restore.restored).toBe(true);
      const visible = await c.current(b, "k", true);
      if (deleted!.versionId === cur.versionId) {
        // The delete first: the restore then found the key empty.
        expect(restore.replaced).toBeNull();
        expect(visible!.versionId).toBe(trashed.versionId);
      } else {
        // The restore first: the delete then hid the restored version.
        expect(deleted!.versionId).toBe(trashed.versionId);
        expect(restore.replaced).toBe(cur.versionId);
        expect(visible).toBeNull();
      }
      expect(await stateOf(cur.versionId)).toMatchObject({ state: "trash" });
    }
  });
});

describe("the request that sends a version to the trash is on its row (its trash move and purge name it)", () => {
  const cat = () => new Catalogue(pool, TTL);
  const requestOf = async (versionId: string) => (await cat().version(versionId))!.requestId;

  it("deletes of many keys in one batch: each version keeps its own delete's id", async () => {
    const c = cat();
    const b = newBucket();
    const [x, y, z] = [upload(b, "x"), upload(b, "y"), upload(b, "z")];
    await Promise.all([x, y, z].map((v) => c.commit(v)));
    // Submitted in one turn: one batch (one transaction), three requests' ids.
    const got = await Promise.all([c.markDeleted(b, "x", "del-x"), c.markDeleted(b, "y", "del-y"), c.markDeleted(b, "z", undefined)]);
    expect(got.map((v) => v?.requestId)).toEqual(["del-x", "del-y", null]);
    expect([await requestOf(x.versionId), await requestOf(y.versionId), await requestOf(z.versionId)]).toEqual(["del-x", "del-y", null]);
  });

  it("overwrites in one batch: the replaced versions (and same-batch losers) take the winning upload's id", async () => {
    const c = cat();
    const b = newBucket();
    const [a1, b1] = [upload(b, "a"), upload(b, "b")];
    await Promise.all([a1, b1].map((v) => c.commit(v)));
    const [a2, a3, b2] = [upload(b, "a"), upload(b, "a"), upload(b, "b")];
    await Promise.all([c.commit(a2, "put-a2"), c.commit(a3, "put-a3"), c.commit(b2, "put-b2")]);
    expect(await requestOf(a1.versionId)).toBe("put-a3");
    expect(await requestOf(a2.versionId)).toBe("put-a3");
    expect(await requestOf(b1.versionId)).toBe("put-b2");
    expect(await requestOf(a3.versionId)).toBeNull(); // live
  });

  it("an undelete: the version it replaces takes its id, the restored one has none", async () => {
    const c = cat();
    const { trashed, cur } = await trashedUnderCurrent(c);
    expect(await c.restore(trashed, ["s4"], [], Date.now(), "undel")).toMatchObject({ restored: true });
    expect(await requestOf(cur.versionId)).toBe("undel");
    expect(await requestOf(trashed.versionId)).toBeNull();
  });
});

describe("conditional tier moves and bookkeeping", () => {
  const cat = () => new Catalogue(pool, TTL);

  it("moves a version that is still as expected, recording the old copies", async () => {
    const c = cat();
    const { v } = await committed(c);
    const moved = await c.moveTier(
      v.versionId,
      { state: "live", tier: "hot", gen: 0, accessedMs: v.createdMs },
      { tier: "cold", replicas: ["c1"] },
      v.replicas,
    );
    expect(moved).toBe(true);
    expect(await c.version(v.versionId)).toMatchObject({
      state: "live",
      tier: "cold",
      replicas: ["c1"],
      cleanup: v.replicas,
      accessedMs: v.createdMs,
    });
    // A promotion also sets the access time.
    expect(
      await c.moveTier(
        v.versionId,
        { state: "live", tier: "cold", gen: 1 },
        { tier: "hot", replicas: ["s9"], accessedMs: v.createdMs + 5 },
        ["c1"],
      ),
    ).toBe(true);
    // The old copies join those still pending.
    expect(await c.version(v.versionId)).toMatchObject({
      tier: "hot",
      replicas: ["s9"],
      cleanup: [...v.replicas, "c1"],
      accessedMs: v.createdMs + 5,
    });
  });

  it("loses a demotion to a read recorded since", async () => {
    const c = cat();
    const { v } = await committed(c);
    await c.recordAccess(new Map([[v.versionId, v.createdMs + 1000]]));
    const moved = await c.moveTier(
      v.versionId,
      { state: "live", tier: "hot", gen: 0, accessedMs: v.createdMs },
      { tier: "cold", replicas: ["c1"] },
      v.replicas,
    );
    expect(moved).toBe(false);
    expect(await c.version(v.versionId)).toMatchObject({ tier: "hot", replicas: v.replicas, cleanup: [], accessedMs: v.createdMs + 1000 });
  });

  it("loses a move to a delete", async () => {
    const c = cat();
    const { b, v } = await committed(c);
    await c.markDeleted(b, "k");
    expect(await c.moveTier(v.versionId, { state: "live", tier: "hot", gen: 0 }, { tier: "cold", replicas: ["c1"] }, v.replicas)).toBe(
      false,
    );
    expect(await stateOf(v.versionId)).toEqual({ state: "trash", tier: "hot", reason: "deleted" });
  });

  it("gives each move of one batch its own outcome", async () => {
    const c = cat();
    const b = newBucket();
    const [v, w] = [upload(b, "a"), upload(b, "b")];
    await Promise.all([c.commit(v), c.commit(w)]);
    const got = await Promise.all([
      c.moveTier(v.versionId, { state: "live", tier: "hot", gen: 0 }, { tier: "cold", replicas: ["c1"] }, v.replicas),
      c.moveTier(w.versionId, { state: "live", tier: "cold", gen: 0 }, { tier: "hot", replicas: ["s9"] }, []),
    ]);
    expect(got).toEqual([true, false]);
    expect((await c.version(v.versionId))!.tier).toBe("cold");
    expect((await c.version(w.versionId))!.tier).toBe("hot");
  });

  it("moves each row of one batch only as its job read it, keeping what changed meanwhile in its pending copies", async () => {
    const c = cat();
    const b = newBucket();
    const [asRead, readSince, deletedSince, cleanupSince, twice, otherCopies, staleGen, trashed] = [
      "a",
      "b",
      "c",
      "d",
      "e",
      "f",
      "g",
      "h",
    ].map((key, i) => upload(b, key, { replicas: i === 5 ? ["s2", "s3"] : ["s1", "s2"] }));
    const all = [asRead, readSince, deletedSince, cleanupSince, twice, otherCopies, staleGen, trashed];
    await Promise.all(all.map((v) => c.commit(v)));
    const read = new Map((await Promise.all(all.map((v) => c.version(v.versionId)))).map((r) => [r!.versionId, r!]));
    // Between the jobs' reads and their batched commit: a read, a delete, a copy left pending by
    // someone else (no new generation), and a version deleted before it was read (a trash move).
    await c.recordAccess(new Map([[readSince.versionId, readSince.createdMs + 1000]]));
    await c.markDeleted(b, "c");
    await pool.query("UPDATE versions SET cleanup = 'x9' WHERE version_id = ?", [cleanupSince.versionId]);
    await c.markDeleted(b, "h");
    const trashRow = (await c.version(trashed.versionId))!;
    const demotion = (v: NewVersion, gen = read.get(v.versionId)!.gen): TierMove => ({
      versionId: v.versionId,
      expect: { state: "live", tier: "hot", gen, accessedMs: v.createdMs },
      to: { tier: "cold", replicas: ["c1"] },
      oldCopies: v.replicas,
    });
    // One batch, as the catalogue's GroupCommit hands it over (called directly: a batch that fails
    // is retried move by move, which would hide a broken batched statement).
    const got = await moveBatch(pool, [
      demotion(asRead),
      demotion(readSince),
      demotion(deletedSince),
      demotion(cleanupSince),
      demotion(twice, 7), // a stale read first: it loses, and the right one after it wins
      demotion(twice),
      demotion(otherCopies),
      demotion(staleGen, read.get(staleGen.versionId)!.gen + 1),
      {
        versionId: trashed.versionId,
        expect: { state: "trash", tier: "hot", gen: trashRow.gen },
        to: { tier: "trash", replicas: ["d1"] },
        oldCopies: trashed.replicas,
      },
    ]);
    expect(got).toEqual([true, false, false, true, false, true, true, false, true]);
    const now = async (v: NewVersion) => {
      const r = (await c.version(v.versionId))!;
      return { state: r.state, tier: r.tier, replicas: r.replicas, cleanup: r.cleanup };
    };
    const cold = (v: NewVersion) => ({ state: "live", tier: "cold", replicas: ["c1"], cleanup: v.replicas });
    const unmoved = (v: NewVersion, state = "live") => ({ state, tier: "hot", replicas: v.replicas, cleanup: [] });
    expect(await Promise.all(all.map(now))).toEqual([
      cold(asRead),
      unmoved(readSince),
      unmoved(deletedSince, "trash"),
      { ...cold(cleanupSince), cleanup: ["x9", ...cleanupSince.replicas] },
      cold(twice),
      cold(otherCopies),
      unmoved(staleGen),
      { state: "trash", tier: "trash", replicas: ["d1"], cleanup: trashed.replicas },
    ]);
    expect((await c.version(readSince.versionId))!.accessedMs).toBe(readSince.createdMs + 1000);
  });

  it("moves a batch of trash moves off different nodes with one lock and one UPDATE, each row keeping its own old copies", async () => {
    const c = cat();
    const b = newBucket();
    const pairs = [
      ["s1", "s2"],
      ["s2", "s3"],
      ["s3", "s1"],
      ["s1", "s2"],
      ["s2", "d1"],
    ];
    const vs = pairs.map((replicas, i) => upload(b, `k${i}`, { replicas }));
    await Promise.all(vs.map((v) => c.commit(v)));
    for (const v of vs) await c.markDeleted(b, v.key);
    // One row already lists a copy pending (a node away during an earlier cleanup), another the trash node's.
    await pool.query("UPDATE versions SET cleanup = 's9' WHERE version_id = ?", [vs[0].versionId]);
    await pool.query("UPDATE versions SET cleanup = 'd1' WHERE version_id = ?", [vs[1].versionId]);
    const rows = await Promise.all(vs.map((v) => c.version(v.versionId)));
    const sent: string[] = [];
    const moved = await moveBatch(
      countingPool(pool, sent),
      rows.map((r, i) => ({
        versionId: r!.versionId,
        expect: { state: "trash", tier: "hot", gen: i === 2 ? r!.gen + 1 : r!.gen }, // the third: read before a change
        to: { tier: "trash", replicas: ["d1"] },
        oldCopies: r!.replicas,
      })),
    );
    expect(moved).toEqual([true, true, false, true, true]);
    const statements = sent.join(";").split(";");
    expect(statements.filter((q) => /FOR UPDATE/.test(q))).toHaveLength(1);
    expect(statements.filter((q) => /^\s*UPDATE versions SET tier/.test(q))).toHaveLength(1);
    const after = await Promise.all(vs.map((v) => c.version(v.versionId)));
    expect(after.map((r) => ({ tier: r!.tier, replicas: r!.replicas, cleanup: r!.cleanup }))).toEqual([
      { tier: "trash", replicas: ["d1"], cleanup: ["s9", "s1", "s2"] },
      { tier: "trash", replicas: ["d1"], cleanup: ["s2", "s3"] },
      { tier: "hot", replicas: ["s3", "s1"], cleanup: [] },
      { tier: "trash", replicas: ["d1"], cleanup: ["s1", "s2"] },
      { tier: "trash", replicas: ["d1"], cleanup: ["s2"] },
    ]);
  });

  it("checks each move's generation, access time, state and tier in a batch's UPDATE itself, by a list of rows and no CASE", async () => {
    const c = cat();
    const b = newBucket();
    const vs = Array.from({ length: 6 }, (_, i) => upload(b, `k${i}`));
    await Promise.all(vs.map((v) => c.commit(v)));
    const rows = (await Promise.all(vs.map((v) => c.version(v.versionId)))).map((r) => r!);
    // Changed since the jobs read them, none through the generation but the first: the UPDATE's
    // own conditions must leave them (its lock is made to lock every listed row below).
    await pool.query("UPDATE versions SET gen = gen + 1 WHERE version_id = ?", [rows[1].versionId]);
    await pool.query("UPDATE versions SET accessed_ms = accessed_ms + 1 WHERE version_id = ?", [rows[2].versionId]);
    await pool.query("UPDATE versions SET state = 'trash' WHERE version_id = ?", [rows[3].versionId]);
    await pool.query("UPDATE versions SET tier = 'cold' WHERE version_id = ?", [rows[4].versionId]);
    const sent: string[] = [];
    const sentParams: unknown[][] = [];
    // The lock's conditions taken out (its parameters kept): every listed row is locked and answered as moved.
    const lockingAll = countingPool(pool, sent, sentParams, (sql) =>
      sql.replace(
        /WHERE v\.state = \? AND v\.tier = \? AND v\.gen = e\.gen AND v\.accessed_ms = e\.at FOR UPDATE/,
        "WHERE ? IS NOT NULL AND ? IS NOT NULL FOR UPDATE",
      ),
    );
    const moved = await moveBatch(
      lockingAll,
      rows.map((r) => ({
        versionId: r.versionId,
        expect: { state: "live", tier: "hot", gen: r.gen, accessedMs: r.accessedMs },
        to: { tier: "cold", replicas: ["c1"] },
        oldCopies: r.replicas,
      })),
    );
    expect(moved).toEqual(rows.map(() => true)); // the lock's answer: every row, as rewritten
    const update = statementsOf(sent[0], sentParams[0]).find((q) => /^\s*UPDATE versions SET tier/.test(q.sql))!;
    expect(update.sql).not.toMatch(/CASE/);
    expect(update.sql).toMatch(/\(version_id, gen, accessed_ms\) IN \(/);
    const [plan] = await pool.query<RowDataPacket[]>(`EXPLAIN ${update.sql}`, update.params);
    // A range read (of PRIMARY by the listed ids on a catalogue of any size; on this test's few rows
    // MariaDB may take the state and tier's), never a scan.
    expect(plan[0]).toMatchObject({ type: "range" });
    const after = (await Promise.all(rows.map((r) => c.version(r.versionId)))).map((r) => r!);
    expect(after.map((r) => [r.state, r.tier])).toEqual([
      ["live", "cold"],
      ["live", "hot"],
      ["live", "hot"],
      ["trash", "hot"],
      ["live", "cold"], // moved to cold by hand above, not by the batch: unchanged since
      ["live", "cold"],
    ]);
    expect(after.map((r, i) => r.gen - rows[i].gen)).toEqual([1, 1, 0, 0, 0, 1]);
    expect(after.map((r) => r.replicas)).toEqual([["c1"], rows[1].replicas, rows[2].replicas, rows[3].replicas, rows[4].replicas, ["c1"]]);
  });

  it("never moves an access time back, and ignores versions in the trash", async () => {
    const c = cat();
    const b = newBucket();
    const [v, w] = [upload(b, "a"), upload(b, "b")];
    await Promise.all([c.commit(v), c.commit(w)]);
    await c.markDeleted(b, "b");
    await c.recordAccess(
      new Map([
        [v.versionId, v.createdMs + 50],
        [w.versionId, w.createdMs + 50],
      ]),
    );
    await c.recordAccess(new Map([[v.versionId, v.createdMs + 10]]));
    expect((await c.version(v.versionId))!.accessedMs).toBe(v.createdMs + 50);
    expect((await c.version(w.versionId))!.accessedMs).toBe(w.createdMs);
  });

  it("records a flush of access times in one statement of the same text for any count, each row found once by its id", async () => {
    const c = cat();
    const b = newBucket();
    const vs = Array.from({ length: 300 }, (_, i) => upload(b, `k${i}`));
    await Promise.all(vs.map((v) => c.commit(v)));
    const sent: { sql: string; params: unknown[] }[] = [];
    const watched = new Proxy(pool, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop !== "query") return typeof value === "function" ? value.bind(target) : value;
        return (sql: string, params: unknown[]) => {
          sent.push({ sql, params });
          return target.query(sql, params);
        };
      },
    });
    await updateAccessTimes(watched, new Map(vs.map((v, i) => [v.versionId, v.createdMs + 1000 + i])));
    // One statement with one parameter (it was 900 literals and an n² CASE for 300 versions)...
    expect(sent).toHaveLength(1);
    expect(sent[0].params).toHaveLength(1);
    // ...that reads each listed row by its primary key, not a range of the list.
    const [plan] = await pool.query<RowDataPacket[]>(`EXPLAIN ${sent[0].sql}`, sent[0].params);
    expect(plan.find((r) => r.table === "v")).toMatchObject({ type: "eq_ref", key: "PRIMARY" });
    const after = await Promise.all(vs.map((v) => c.version(v.versionId)));
    expect(after.map((r) => r!.accessedMs)).toEqual(vs.map((v, i) => v.createdMs + 1000 + i));
  });

  /** 300 versions committed (live, hot), each with its row as read. */
  async function threeHundred(c: Catalogue): Promise<VersionRow[]> {
    const b = newBucket();
    const vs = Array.from({ length: 300 }, (_, i) => upload(b, `k${i}`));
    await Promise.all(vs.map((v) => c.commit(v)));
    return (await Promise.all(vs.map((v) => c.version(v.versionId)))).map((r) => r!);
  }

  it("locks a batch of 300 demotions by one JSON parameter joined by the primary key, and leaves a row whose generation changed", async () => {
    const c = cat();
    const rows = await threeHundred(c);
    // Changed since the jobs read it: a new generation (the row as read does not match).
    await pool.query("UPDATE versions SET gen = gen + 1 WHERE version_id = ?", [rows[7].versionId]);
    const sent: string[] = [];
    const sentParams: unknown[][] = [];
    const moved = await moveBatch(
      countingPool(pool, sent, sentParams),
      rows.map((r) => ({
        versionId: r.versionId,
        expect: { state: "live", tier: "hot", gen: r.gen, accessedMs: r.accessedMs },
        to: { tier: "cold", replicas: ["c1"] },
        oldCopies: r.replicas,
      })),
    );
    expect(moved).toEqual(rows.map((_, i) => i !== 7));
    expect(sent).toHaveLength(1);
    const lock = statementsOf(sent[0], sentParams[0]).find((q) => /FOR UPDATE/.test(q.sql))!;
    // The JSON of the 300 versions, the state and the tier (it was 300 ids and two CASEs of 600 literals each).
    expect(lock.params).toHaveLength(3);
    const [plan] = await pool.query<RowDataPacket[]>(`EXPLAIN ${lock.sql}`, lock.params);
    expect(plan.find((r) => r.table === "v")).toMatchObject({ type: "eq_ref", key: "PRIMARY" });
    const after = await Promise.all(rows.map((r) => c.version(r.versionId)));
    expect(after.map((r) => r!.tier)).toEqual(rows.map((_, i) => (i === 7 ? "hot" : "cold")));
    expect(after[7]).toMatchObject({ gen: rows[7].gen + 1, replicas: rows[7].replicas, cleanup: [] });
  });

  it("marks a batch of 300 purges with one JSON parameter joined by the primary key, and leaves a row whose generation changed", async () => {
    const c = new Catalogue(pool, 0); // purge times now: every trashed version is due at once
    const rows = await threeHundred(c);
    await Promise.all(rows.map((r) => c.markDeleted(r.bucket, r.key)));
    const trashed = (await Promise.all(rows.map((r) => c.version(r.versionId)))).map((r) => r!);
    await pool.query("UPDATE versions SET gen = gen + 1 WHERE version_id = ?", [trashed[7].versionId]);
    const sent: string[] = [];
    const sentParams: unknown[][] = [];
    const marked = await markPurgingBatch(
      countingPool(pool, sent, sentParams),
      trashed.map((r) => ({ versionId: r.versionId, gen: r.gen })),
    );
    expect(marked).toEqual(rows.map((_, i) => i !== 7));
    expect(sent).toHaveLength(1);
    const statements = statementsOf(sent[0], sentParams[0]).filter((q) => /versions v/.test(q.sql));
    // The lock and the UPDATE, each the JSON of the 300 versions (it was 300 ids and 600 literals of a CASE).
    expect(statements.map((q) => q.params.length)).toEqual([1, 1]);
    // Explained on one connection with the batch's clock reading set (@purge_at: a session's own;
    // unset, MariaDB sees an impossible WHERE and plans no table at all).
    const explaining = await pool.getConnection();
    try {
      await explaining.query(statementsOf(sent[0], sentParams[0]).find((q) => /@purge_at =/.test(q.sql))!.sql);
      for (const q of statements) {
        const [plan] = await explaining.query<RowDataPacket[]>(`EXPLAIN ${q.sql}`, q.params);
        expect(plan.find((r) => r.table === "v")).toMatchObject({ type: "eq_ref", key: "PRIMARY" });
      }
    } finally {
      explaining.release();
    }
    const after = await Promise.all(rows.map((r) => c.version(r.versionId)));
    expect(after.map((r) => r!.state)).toEqual(rows.map((_, i) => (i === 7 ? "trash" : "purging")));
    expect(after.map((r, i) => r!.gen - trashed[i].gen)).toEqual(rows.map(() => 1));
  });

  it("deletes left-over copies, keeps those it could not delete pending, and never deletes a replica", async () => {
    const c = cat();
    const { v } = await committed(c);
    expect(
      await c.moveTier(v.versionId, { state: "live", tier: "hot", gen: 0 }, { tier: "cold", replicas: ["c1"] }, ["s1", "s2", "s3"]),
    ).toBe(true);
    const asked: string[][] = [];
    // s2's node does not answer; the stray c1 is the replica now: it stays.
    const remove = async (ids: string[]) => (asked.push(ids), ids.filter((id) => id === "s2"));
    expect(await c.cleanCopies(v.versionId, ["c1"], remove)).toEqual(["s2"]);
    expect(asked).toEqual([["s1", "s2", "s3"]]);
    expect(await c.version(v.versionId)).toMatchObject({ replicas: ["c1"], cleanup: ["s2"], gen: 1 });
    expect(await c.cleanCopies(v.versionId, [], async () => [])).toEqual([]);
    expect((await c.version(v.versionId))!.cleanup).toEqual([]);
  });

  it("a batch of cleanups with different outcomes leaves each row its own pending copies and generation", async () => {
    const c = cat();
    const vs = await Promise.all([0, 1, 2, 3].map(async () => (await committed(c)).v));
    for (const v of vs) {
      await c.moveTier(v.versionId, { state: "live", tier: "hot", gen: 0 }, { tier: "cold", replicas: ["c1"] }, ["s1", "s2", "s3"]);
    }
    // Sent together, they share one transaction: all gone; s2 unreachable; s3 unreachable; all
    // gone plus a stray the row did not list (its generation moves on).
    const failing = (node: string) => async (ids: string[]) => ids.filter((id) => id === node);
    const left = await Promise.all([
      c.cleanCopies(vs[0].versionId, [], async () => []),
      c.cleanCopies(vs[1].versionId, [], failing("s2")),
      c.cleanCopies(vs[2].versionId, [], failing("s3")),
      c.cleanCopies(vs[3].versionId, ["s9"], async () => []),
    ]);
    expect(left).toEqual([[], ["s2"], ["s3"], []]);
    const rows = await Promise.all(vs.map((v) => c.version(v.versionId)));
    expect(rows.map((r) => [r!.cleanup, r!.gen])).toEqual([
      [[], 1],
      [["s2"], 1],
      [["s3"], 1],
      [[], 2],
    ]);
  });

  it("deleting a stray copy the row did not list changes the generation; a gone version's strays all go", async () => {
    const c = cat();
    const { v } = await committed(c);
    const asked: string[][] = [];
    const remove = async (ids: string[]) => (asked.push(ids), []);
    expect(await c.cleanCopies(v.versionId, ["s9", "s1"], remove)).toEqual([]);
    expect(asked).toEqual([["s9"]]);
    // A job that read the row before may have written s9 too: it must not commit.
    expect((await c.version(v.versionId))!.gen).toBe(1);
    expect(await c.cleanCopies("gone-version-0000000000000000", ["s1"], remove)).toEqual([]);
    expect(asked[1]).toEqual(["s1"]);
  });

  it("a claim takes nodes off the pending copies, after a cleanup that holds the row", async () => {
    const c = cat();
    const { v } = await committed(c);
    await c.moveTier(v.versionId, { state: "live", tier: "hot", gen: 0 }, { tier: "cold", replicas: ["c1"] }, ["s1", "s2"]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const deleted: string[] = [];
    const cleaning = c.cleanCopies(v.versionId, [], async (ids) => (await held, deleted.push(...ids), []));
    await new Promise((r) => setTimeout(r, 100)); // the cleanup holds the row now
    let claimed = false;
    const claim = c.claimCopies(v.versionId, ["s1"]).then(() => (claimed = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(claimed).toBe(false);
    release();
    await Promise.all([cleaning, claim]);
    expect(deleted).toEqual(["s1", "s2"]);
    expect((await c.version(v.versionId))!.cleanup).toEqual([]);
  });

  describe("a move that cleans its old copies itself (moveTierAndClean)", () => {
    const toCold = (v: NewVersion, gen = 0): [string, TierMove["expect"], TierMove["to"], string[]] => [
      v.versionId,
      { state: "live", tier: "hot", gen },
      { tier: "cold", replicas: ["c1"] },
      v.replicas,
    ];

    it("deletes the moved rows' old copies under their lock, taken in the commit's round trip; a lost move keeps its row", async () => {
      const c = cat();
      const vs = await Promise.all([0, 1, 2].map(async () => (await committed(c)).v));
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const asked = new Map<string, string[]>();
      const remover = (v: NewVersion, unreachable?: string) => async (ids: string[]) => {
        asked.set(v.versionId, ids);
        await held;
        return ids.filter((id) => id === unreachable);
      };
      // Sent together, they share one batch: vs[1] was read at an old generation.
      const outcomes = await Promise.all([
        c.moveTierAndClean(...toCold(vs[0]), remover(vs[0])),
        c.moveTierAndClean(...toCold(vs[1], 7), remover(vs[1])),
        c.moveTierAndClean(...toCold(vs[2]), remover(vs[2], "s2")),
      ]);
      expect(outcomes.map((o) => o.moved)).toEqual([true, false, true]);
      // The moves have committed; their deletes run under the rows' lock, so a claim waits for them.
      expect(await c.version(vs[0].versionId)).toMatchObject({ tier: "cold", replicas: ["c1"], cleanup: vs[0].replicas });
      let claimed = false;
      const claim = c.claimCopies(vs[0].versionId, ["s1"]).then(() => (claimed = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(claimed).toBe(false);
      release();
      expect(await outcomes[0].clean()).toEqual([]);
      expect(await outcomes[2].clean()).toEqual(["s2"]);
      await claim;
      expect([...asked.keys()].sort()).toEqual([vs[0].versionId, vs[2].versionId].sort());
      expect(asked.get(vs[0].versionId)).toEqual(["s1", "s2", "s3"]);
      const rows = await Promise.all(vs.map((v) => c.version(v.versionId)));
      expect(rows.map((r) => [r!.tier, r!.cleanup, r!.gen])).toEqual([
        ["cold", [], 1],
        ["hot", [], 0],
        ["cold", ["s2"], 1],
      ]);
    });

    it("with two batches still deleting, a third move commits alone and cleans the separate way", async () => {
      const c = cat();
      const vs = await Promise.all([0, 1, 2].map(async () => (await committed(c)).v));
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const slow = async () => (await held, []);
      const first = await c.moveTierAndClean(...toCold(vs[0]), slow);
      const second = await c.moveTierAndClean(...toCold(vs[1]), slow);
      const third = await c.moveTierAndClean(...toCold(vs[2]), async () => []);
      expect([first.moved, second.moved, third.moved]).toEqual([true, true, true]);
      expect(await third.clean()).toEqual([]);
      expect((await c.version(vs[2].versionId))!.cleanup).toEqual([]);
      release();
      expect(await Promise.all([first.clean(), second.clean()])).toEqual([[], []]);
      expect((await Promise.all(vs.map((v) => c.version(v.versionId)))).map((r) => r!.cleanup)).toEqual([[], [], []]);
    });

    it("is fenced: refused by the write fence, nothing moves and nothing is deleted", async () => {
      const refusing = {
        admit: () => {
          throw new MiniS3Error(ErrorCode.CatalogueUnavailable, "lease lapsed");
        },
        settled: () => undefined,
        writable: () => Promise.resolve(),
      };
      const c = new Catalogue(pool, TTL, undefined, refusing);
      const open = cat();
      const { v } = await committed(open);
      const asked: string[][] = [];
      await expect(c.moveTierAndClean(...toCold(v), async (ids) => (asked.push(ids), []))).rejects.toMatchObject({
        code: ErrorCode.CatalogueUnavailable,
      });
      expect(asked).toEqual([]);
      expect(await open.version(v.versionId)).toMatchObject({ tier: "hot", replicas: v.replicas, cleanup: [], gen: 0 });
    });
  });

  it("marks and forgets a whole batch at once, each version only as it was read and due", async () => {
    const c = new Catalogue(pool, 0); // purge times now: every trashed version is due at once
    const b = newBucket();
    const vs = Array.from({ length: 6 }, (_, i) => upload(b, `k${i}`));
    for (const v of vs) await c.commit(v);
    const trashed = await Promise.all(vs.slice(0, 5).map((v) => c.markDeleted(b, v.key)));
    const [t0, t1, t2, t3] = trashed.map((t) => t!);
    // Sent together, they share one batch: t1 read at an old generation, the live version not in
    // the trash, t3 twice (only the first counts), t0 and t2 as read.
    const marks = await Promise.all([
      c.markPurging(t0),
      c.markPurging({ versionId: t1.versionId, gen: t1.gen - 1 }),
      c.markPurging({ versionId: vs[5].versionId, gen: 0 }),
      c.markPurging(t2),
      c.markPurging(t3),
      c.markPurging(t3),
    ]);
    expect(marks).toEqual([true, false, false, true, true, false]);
    const state = async (id: string) => (await c.version(id))?.state ?? "gone";
    expect(await Promise.all([t0, t1, t2, t3].map((t) => state(t.versionId)))).toEqual(["purging", "trash", "purging", "purging"]);
    const forgets = await Promise.all([t0, t1, vs[5], t2, t2].map((v) => c.forget(v.versionId)));
    expect(forgets).toEqual([true, true, false, true, false]);
    expect(await Promise.all([t0, t1, vs[5], t2, t3].map((v) => state(v.versionId)))).toEqual(["gone", "gone", "live", "gone", "purging"]);
  });

  it("forgets only versions in the trash", async () => {
    const c = cat();
    const { b, v } = await committed(c);
    expect(await c.forget(v.versionId)).toBe(false);
    await c.markDeleted(b, "k");
    expect(await c.forget(v.versionId)).toBe(true);
    expect(await c.version(v.versionId)).toBeNull();
  });
});

describe("the read cache hears every change", () => {
  /**
   * Caches the key's row, then changes the row behind the catalogue's back: while the cache keeps
   * answering, the catalogue still says the old content type. Returns the cached row.
   */
  async function cacheBehind(c: Catalogue, bucket: string, key: string): Promise<VersionRow> {
    const row = (await c.current(bucket, key))!;
    await pool.query("UPDATE versions SET content_type = 'changed behind' WHERE version_id = ?", [row.versionId]);
    expect((await c.current(bucket, key))!.contentType).toBe(row.contentType);
    return row;
  }

  it("commit", async () => {
    const { cat } = cachedCatalogue();
    const { b } = await committed(cat);
    await cacheBehind(cat, b, "k");
    const next = upload(b, "k");
    await cat.commit(next);
    // The commit cached the new row itself: the next GET costs no lookup.
    await pool.query("UPDATE versions SET content_type = 'changed behind' WHERE version_id = ?", [next.versionId]);
    expect(await cat.current(b, "k")).toMatchObject({ versionId: next.versionId, contentType: next.contentType });
  });

  it("commit caches the row MariaDB holds, field for field", async () => {
    const { cat } = cachedCatalogue();
    const b = newBucket();
    const v = upload(b, "k", { metadata: { colour: "blue" }, size: 4096 });
    await cat.commit(v, "req-1");
    const cached = await cat.current(b, "k");
    expect(cached).toEqual(await cat.current(b, "k", true));
    expect(cached).toMatchObject({ state: "live", tier: "hot", accessedMs: v.createdMs, requestId: null });
  });

  it("markDeleted", async () => {
    const { cat } = cachedCatalogue();
    const { b } = await committed(cat);
    await cacheBehind(cat, b, "k");
    await cat.markDeleted(b, "k");
    expect(await cat.current(b, "k")).toBeNull();
  });

  it("restore", async () => {
    const { cat } = cachedCatalogue();
    const { b, trashed } = await trashedUnderCurrent(cat);
    await cacheBehind(cat, b, "k");
    await cat.restore(trashed, ["s1"], [], Date.now());
    expect((await cat.current(b, "k"))!.versionId).toBe(trashed.versionId);
  });

  it("moveTier, cleanCopies, claimCopies, markPurging", async () => {
    const { cat } = cachedCatalogue();
    const { b, v } = await committed(cat);
    await cacheBehind(cat, b, "k");
    await cat.moveTier(v.versionId, { state: "live", tier: "hot", gen: 0 }, { tier: "cold", replicas: ["c1"] }, v.replicas);
    expect(await cat.current(b, "k")).toMatchObject({ contentType: "changed behind", tier: "cold" });
    const changes = [() => cat.cleanCopies(v.versionId, [], async () => []), () => cat.claimCopies(v.versionId, ["s1"])];
    for (const [i, change] of changes.entries()) {
      const cached = (await cat.current(b, "k"))!.contentType;
      await pool.query("UPDATE versions SET content_type = ? WHERE version_id = ?", [`behind ${i}`, v.versionId]);
      expect((await cat.current(b, "k"))!.contentType).toBe(cached);
      await change();
      expect((await cat.current(b, "k"))!.contentType).toBe(`behind ${i}`);
    }
    const changed = jest.spyOn(cat["cache"], "changed");
    await cat.markPurging({ versionId: v.versionId, gen: 0 });
    expect(changed).toHaveBeenLastCalledWith([], [v.versionId], undefined);
  });

  it("forget, and a change that failed (it may have committed)", async () => {
    const { cat, cache } = cachedCatalogue();
    const { b, v } = await committed(cat);
    await cat.markDeleted(b, "k");
    const changed = jest.spyOn(cache, "changed");
    await cat.forget(v.versionId);
    expect(changed).toHaveBeenLastCalledWith([], [v.versionId], undefined);

    await cat.commit(upload(b, "k"));
    await cacheBehind(cat, b, "k");
    // content_type is VARCHAR(255): MariaDB refuses the whole commit.
    await expect(cat.commit(upload(b, "k", { contentType: "x".repeat(300) }))).rejects.toThrow();
    expect((await cat.current(b, "k"))!.contentType).toBe("changed behind");
  });

  it("recordAccess updates cached rows", async () => {
    const { cat } = cachedCatalogue();
    const { b, v } = await committed(cat);
    await cat.current(b, "k");
    await cat.recordAccess(new Map([[v.versionId, v.createdMs + 77]]));
    expect((await cat.current(b, "k"))!.accessedMs).toBe(v.createdMs + 77);
  });
});

describe("lifecycle queries", () => {
  it("find what each transition is due for, in order, within the limit", async () => {
    const c = new Catalogue(pool, TTL);
    const b = newBucket();
    const t0 = 1_000_000; // long ago: these rows come first in every query of this database
    const [old1, old2, young] = [upload(b, "o1", { createdMs: t0 + 2 }), upload(b, "o2", { createdMs: t0 + 1 }), upload(b, "y")];
    await Promise.all([c.commit(old1), c.commit(old2), c.commit(young)]);
    const ids = (rows: VersionRow[]) => rows.map((r) => r.versionId);

    const page = (scan: DueScan, dueBy: number, limit: number, after = START_CURSOR) => c.lifecycle.duePage(scan, after, dueBy, limit);
    expect(ids(await page(DUE_SCANS.hot, t0 + 2, 10))).toEqual([old2.versionId, old1.versionId]);
    expect(ids(await page(DUE_SCANS.hot, t0 + 2, 1))).toEqual([old2.versionId]);
    // a keyset page: the next one starts after the last row, whatever stayed behind
    expect(ids(await page(DUE_SCANS.hot, t0 + 2, 10, { at: t0 + 1, versionId: old2.versionId }))).toEqual([old1.versionId]);
    expect(await c.lifecycle.nextAfter(DUE_SCANS.hot, { at: t0 + 1, versionId: old2.versionId })).toBe(t0 + 2);

    const held = ids(await c.lifecycle.hotOnNode("s2", 100_000));
    expect(held).toEqual(expect.arrayContaining([old1.versionId, old2.versionId, young.versionId]));
    expect(ids(await c.lifecycle.hotOnNode(`nowhere-${b}`, 10))).toEqual([]);

    const trashed = (await c.markDeleted(b, "y"))!;
    const toMove = async () => [
      ...ids(await page(DUE_SCANS.trashOnHot, Number.MAX_SAFE_INTEGER, 100_000)),
      ...ids(await page(DUE_SCANS.trashByDelete, Number.MAX_SAFE_INTEGER, 100_000)),
    ];
    expect(await toMove()).toContain(trashed.versionId);
    expect(ids(await page(DUE_SCANS.purgeable, trashed.purgeMs! - 1, 100_000))).not.toContain(trashed.versionId);
    expect(ids(await page(DUE_SCANS.purgeable, trashed.purgeMs!, 100_000))).toContain(trashed.versionId);
    await c.moveTier(
      trashed.versionId,
      { state: "trash", tier: "hot", gen: trashed.gen },
      { tier: "trash", replicas: ["t1"] },
      trashed.replicas,
    );
    expect(await toMove()).not.toContain(trashed.versionId);
    // A purge that began is found again (it may have stopped half way). Due now on MariaDB's clock.
    await pool.query("UPDATE versions SET purge_ms = deleted_ms WHERE version_id = ?", [trashed.versionId]);
    expect(await c.markPurging({ versionId: trashed.versionId, gen: trashed.gen + 1 })).toBe(true);
    expect(ids(await page(DUE_SCANS.purging, trashed.purgeMs!, 100_000))).toContain(trashed.versionId);
    expect(ids(await c.lifecycle.hotOnNode("s2", 100_000))).not.toContain(trashed.versionId);

    expect(ids(await c.lifecycle.withLeftoverCopies(100_000))).toContain(trashed.versionId);
    await c.cleanCopies(trashed.versionId, [], async () => []);
    expect(ids(await c.lifecycle.withLeftoverCopies(100_000))).not.toContain(trashed.versionId);
  });

  it("find live hot versions that list fewer copies than R", async () => {
    const c = new Catalogue(pool, TTL);
    const b = newBucket();
    const [none, one, two] = [
      upload(b, "0", { replicas: [] }),
      upload(b, "1", { replicas: ["s1"] }),
      upload(b, "2", { replicas: ["s1", "s2"] }),
    ];
    await Promise.all([c.commit(none), c.commit(one), c.commit(two)]);
    const short = (await c.lifecycle.underReplicated(2, 100_000)).map((r) => r.versionId);
    expect(short).toEqual(expect.arrayContaining([none.versionId, one.versionId]));
    expect(short).not.toContain(two.versionId);
    expect((await c.lifecycle.underReplicated(3, 100_000)).map((r) => r.versionId)).toContain(two.versionId);
    await c.markDeleted(b, "1");
    expect((await c.lifecycle.underReplicated(2, 100_000)).map((r) => r.versionId)).not.toContain(one.versionId);
  });

  it("a row that names a node twice (as a large upload before 2026-12-07 could) reads as the copies it has, and is found short", async () => {
    const c = new Catalogue(pool, TTL);
    const b = newBucket();
    const twice = upload(b, "twice", { replicas: ["s1", "s1"] });
    const apart = upload(b, "apart", { replicas: ["s1", "s10"] }); // s1 within s10 is not a repeat
    await Promise.all([c.commit(twice), c.commit(apart)]);
    expect((await c.version(twice.versionId))?.replicas).toEqual(["s1"]);
    const short = (await c.lifecycle.underReplicated(2, 100_000)).map((r) => r.versionId);
    expect(short).toContain(twice.versionId);
    expect(short).not.toContain(apart.versionId);
  });
});

describe("races: generations, purges and first writes (issue 12 item 6)", () => {
  const cat = () => new Catalogue(pool, TTL);
  const ORPHANS = `SELECT COUNT(*) AS n FROM versions v LEFT JOIN objects o ON o.version_id = v.version_id
                    WHERE v.bucket = ? AND v.state = 'live' AND o.version_id IS NULL`;
  const orphans = async (bucket: string) => Number((await pool.query<RowDataPacket[]>(ORPHANS, [bucket]))[0][0].n);

  /** A version deleted, undeleted and deleted again: the same state and tier twice. */
  async function deletedRestoredDeleted(c: Catalogue): Promise<{ first: VersionRow; second: VersionRow }> {
    const { b } = await committed(c);
    const first = (await c.markDeleted(b, "k"))!;
    expect((await c.restore(first, first.replicas, [], await c.clock.now())).restored).toBe(true);
    return { first, second: (await c.markDeleted(b, "k"))! };
  }

  it("a move read before an undelete and a second delete loses: it compares the generation (review finding 14)", async () => {
    const c = cat();
    const { first, second } = await deletedRestoredDeleted(c);
    // Same state and tier as the trash job read them: only the generation tells the two apart.
    expect({ state: second.state, tier: second.tier }).toEqual({ state: first.state, tier: first.tier });
    expect(second.gen).toBeGreaterThan(first.gen);
    const toTrash = { tier: "trash" as const, replicas: ["t1"] };
    expect(await c.moveTier(first.versionId, { state: "trash", tier: "hot", gen: first.gen }, toTrash, first.replicas)).toBe(false);
    expect(await c.moveTier(first.versionId, { state: "trash", tier: "hot", gen: second.gen }, toTrash, first.replicas)).toBe(true);
  });

  it("a restore read before a second delete loses (review finding 14)", async () => {
    const c = cat();
    const { first, second } = await deletedRestoredDeleted(c);
    expect(await c.restore(first, ["s9"], [], await c.clock.now())).toEqual({ restored: false, replaced: null });
    expect(await c.version(first.versionId)).toMatchObject({ state: "trash", replicas: second.replicas });
  });

  it("a move adds its old copies to those still pending, never overwrites them (review finding 7)", async () => {
    const c = cat();
    const { v } = await committed(c);
    // A repair replaced s3 (whose node is away: its copy stays pending), then a demotion.
    const repaired = ["s1", "s2", "s4"];
    expect(await c.moveTier(v.versionId, { state: "live", tier: "hot", gen: 0 }, { tier: "hot", replicas: repaired }, ["s3"])).toBe(true);
    const r = (await c.version(v.versionId))!;
    expect(r.cleanup).toEqual(["s3"]);
    expect(await c.moveTier(v.versionId, { state: "live", tier: "hot", gen: r.gen }, { tier: "cold", replicas: ["c1"] }, repaired)).toBe(
      true,
    );
    expect((await c.version(v.versionId))!.cleanup.sort()).toEqual(["s1", "s2", "s3", "s4"]);
  });

  it("a version marked for purging cannot be restored, and is then forgotten (review finding 13)", async () => {
    const c = new Catalogue(pool, 0);
    const { b } = await committed(c);
    const t = (await c.markDeleted(b, "k"))!;
    // Due at once on MariaDB's clock (TTL 0), which the mark checks.
    expect(await c.markPurging(t)).toBe(true);
    expect(await c.restore(t, t.replicas, [], await c.clock.now())).toEqual({ restored: false, replaced: null });
    expect(await c.current(b, "k", true)).toBeNull();
    expect(await c.forget(t.versionId)).toBe(true);
  });

  it("a restore needs the purge time ahead on the catalogue's clock, whatever time it is given (review finding 13)", async () => {
    const c = new Catalogue(pool, 1);
    const { b } = await committed(c);
    const t = (await c.markDeleted(b, "k"))!;
    await new Promise((r) => setTimeout(r, 20));
    // A caller whose clock lags cannot bring back what is due for purging.
    expect(await c.restore(t, t.replicas, [], t.deletedMs!)).toEqual({ restored: false, replaced: null });
  });

  it("never both of a restore and a purge mark racing on a version around its purge time win", async () => {
    const c = new Catalogue(pool, 20);
    for (let round = 0; round < 10; round++) {
      const { b } = await committed(c);
      const t = (await c.markDeleted(b, "k"))!;
      await new Promise((r) => setTimeout(r, round * 4)); // before, at and after its purge time
      const [restore, marked] = await Promise.all([c.restore(t, t.replicas, [], await c.clock.now()), c.markPurging(t)]);
      expect(restore.restored && marked).toBe(false);
      expect((await c.version(t.versionId))!.state).toBe(marked ? "purging" : restore.restored ? "live" : "trash");
    }
  });

  it("a purge mark that waited for its row's lock past the purge time answers true exactly when it marked it", async () => {
    // The batch read MariaDB's clock once to lock its rows (SELECT … FOR UPDATE) and again to change
    // them (UPDATE): a version coming due while the first waited for a lock (a trash move's, an
    // undelete's) was not locked, then marked 'purging' by the second, and answered as not marked.
    const c = new Catalogue(pool, 400);
    const { b } = await committed(c);
    const t = (await c.markDeleted(b, "k"))!;
    const holder = await pool.getConnection();
    try {
      await holder.query("START TRANSACTION");
      await holder.query("SELECT version_id FROM versions WHERE version_id = ? FOR UPDATE", [t.versionId]);
      const marking = c.markPurging(t); // due in ~400 ms: it starts before, and waits for the lock
      await new Promise((r) => setTimeout(r, 700));
      await holder.query("COMMIT");
      const marked = await marking;
      const state = (await c.version(t.versionId))!.state;
      expect({ marked, state }).toEqual(marked ? { marked, state: "purging" } : { marked, state: "trash" });
    } finally {
      holder.release();
    }
  });

  it("first commits of a new key racing from two coordinators leave no live version without an object row (review finding 12)", async () => {
    const [c1, c2] = [cat(), cat()];
    const b = newBucket();
    const replaced: string[] = [];
    const all: string[] = [];
    for (let round = 0; round < 300; round++) {
      const [v1, v2] = [upload(b, `k${round}`), upload(b, `k${round}`)];
      all.push(v1.versionId, v2.versionId);
      const got = await Promise.all([c1.commit(v1), c2.commit(v2)]);
      replaced.push(...got.flatMap((g) => g.replaced));
    }
    expect(await orphans(b)).toBe(0);
    // Every loser was reported, so its trash move is queued.
    const [rows] = await pool.query<RowDataPacket[]>("SELECT version_id FROM versions WHERE bucket = ? AND state = 'trash'", [b]);
    expect(rows.map((r) => r.version_id).sort()).toEqual([...replaced].sort());
    expect(rows).toHaveLength(300);
  });

  it("a first commit racing the undelete of its key leaves no live version without an object row (review finding 12)", async () => {
    const [c1, c2] = [cat(), cat()];
    const b = newBucket();
    for (let round = 0; round < 200; round++) {
      const key = `k${round}`;
      await c1.commit(upload(b, key));
      const t = (await c1.markDeleted(b, key))!;
      await Promise.all([c1.commit(upload(b, key)), c2.restore(t, t.replicas, [], await c2.clock.now())]);
    }
    expect(await orphans(b)).toBe(0);
  });
});
