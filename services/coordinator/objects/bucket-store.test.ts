import type { Pool } from "mysql2/promise";
import { ErrorCode } from "../../common/errors";
import { BucketQueries } from "../catalogue/buckets-sql";
import { CatalogueClock } from "../catalogue/catalogue-clock";
import { throwawayCatalogueDatabase } from "../catalogue/testing/throwaway-database";
import { BucketStore } from "./bucket-store";

// An S3 PutObject's bucket check (requireBucket) against the real MariaDB, its SELECTs counted.

const db = throwawayCatalogueDatabase();
const SEEN_MS = 200;
let selects = 0;
let store: BucketStore;

/** `pool`, counting the bucket lookups it runs. */
function counting(pool: Pool): Pool {
  return new Proxy(pool, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "execute") return typeof value === "function" ? value.bind(target) : value;
      return (sql: string, ...rest: unknown[]) => {
        if (/^SELECT .* FROM buckets WHERE name/.test(sql)) selects++;
        return (value as (...a: unknown[]) => unknown).call(target, sql, ...rest);
      };
    },
  });
}

beforeAll(() => {
  const pool = db.pool();
  store = new BucketStore({ buckets: new BucketQueries(counting(pool)), clock: new CatalogueClock(pool) }, SEEN_MS);
});
beforeEach(() => (selects = 0));

const lapse = () => new Promise((r) => setTimeout(r, SEEN_MS + 20));
const many = (name: string, n = 30) => Promise.allSettled(Array.from({ length: n }, () => store.requireBucket(name)));

test("N uploads checking a bucket whose memory lapsed share one MariaDB lookup", async () => {
  await store.createBucket("shared-1", "me");
  await lapse();
  selects = 0;
  expect((await many("shared-1")).every((r) => r.status === "fulfilled")).toBe(true);
  expect(selects).toBe(1);
  await many("shared-1"); // remembered: no lookup
  expect(selects).toBe(1);
  await lapse();
  await many("shared-1");
  expect(selects).toBe(2);
});

test("a missing bucket fails every check that shared the lookup, and is not remembered", async () => {
  const first = await many("missing-1", 10);
  expect(first.every((r) => r.status === "rejected" && (r.reason as { code: string }).code === ErrorCode.NoSuchBucket)).toBe(true);
  expect(selects).toBe(1);
  await expect(store.requireBucket("missing-1")).rejects.toMatchObject({ code: ErrorCode.NoSuchBucket });
  expect(selects).toBe(2);
});

test("a lookup in flight when the bucket is deleted marks nothing seen: the next check asks MariaDB and fails", async () => {
  await store.createBucket("deleted-1", "me");
  await lapse();
  const before = store.requireBucket("deleted-1"); // in flight across the delete
  await store.deleteBucket("deleted-1");
  await before.catch(() => undefined); // either answer: the check was never atomic with the commit
  selects = 0;
  await expect(store.requireBucket("deleted-1")).rejects.toMatchObject({ code: ErrorCode.NoSuchBucket });
  expect(selects).toBe(1);
});

test("a check made while a delete runs does not join the lookup sent before it", async () => {
  await store.createBucket("deleted-2", "me");
  await lapse();
  selects = 0;
  const before = store.requireBucket("deleted-2");
  const deleting = store.deleteBucket("deleted-2");
  const during = store.requireBucket("deleted-2").catch(() => undefined);
  await Promise.all([before.catch(() => undefined), deleting, during]);
  expect(selects).toBe(2);
});
