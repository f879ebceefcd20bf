import { randomBytes } from "node:crypto";
import type { DataSource } from "typeorm";
import { isDatabaseUnavailable, openDataSource, sqlPool } from "./datasource";

// No MariaDB query may wait forever (review finding 8, its database part): a command that gets no
// answer within the deadline fails, its connection is dropped, and the pool goes on working.

const name = `minis3_t_${randomBytes(6).toString("hex")}`;
let ds: DataSource;

beforeAll(async () => {
  ds = await openDataSource({ url: `mysql://root@127.0.0.1:3306/${name}`, poolSize: 2, commandTimeoutMs: 500 });
});

afterAll(async () => {
  try {
    await ds.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await ds.destroy();
  }
});

test("a query with no answer within the deadline fails as 'database unavailable'; the pool still works after", async () => {
  const pool = sqlPool(ds);
  // SLEEP stands for a server that does not answer (stopped, partitioned, stuck on a dead disk).
  const outcomes = await Promise.allSettled([pool.query("SELECT SLEEP(3)"), pool.execute("SELECT SLEEP(3)")]);
  for (const o of outcomes) {
    expect(o.status).toBe("rejected");
    expect(isDatabaseUnavailable((o as PromiseRejectedResult).reason)).toBe(true);
  }
  // Both connections were stuck and dropped; new ones answer.
  const [rows] = await pool.query("SELECT 1 AS one");
  expect(rows).toEqual([{ one: 1 }]);
  expect(await ds.query("SELECT 2 AS two")).toEqual([{ two: 2 }]);
});

test("a waiting query is not cut while its answer comes within the deadline", async () => {
  const [rows] = await sqlPool(ds).query("SELECT SLEEP(0.2) AS s");
  expect(rows).toEqual([{ s: 0 }]);
});

test("what the database refused for what a statement carried is not 'unavailable' (a bug or a bad value: 500 or 400)", async () => {
  const err = await sqlPool(ds)
    .query("SELECT * FROM no_such_table")
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeDefined();
  expect(isDatabaseUnavailable(err)).toBe(false);
  expect(isDatabaseUnavailable(new TypeError("a bug"))).toBe(false);
});
