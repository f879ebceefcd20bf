import { randomBytes } from "node:crypto";
import type { DataSource, MigrationInterface, QueryRunner } from "typeorm";
import { isDatabaseUnavailable, openDataSource, sqlPool } from "./datasource";
import { MAX_PREPARED_STATEMENTS } from "./pool";

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

// On a fresh database, processes starting together (npm start) all find TypeORM's migrations table
// missing and create it: the losers' CREATE TABLE failed and was logged as "query failed ...
// already exists" on a healthy start. openDataSource creates it with IF NOT EXISTS first.
class Probe1700000000000 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query("CREATE TABLE IF NOT EXISTS probe (id int NOT NULL PRIMARY KEY) ENGINE=InnoDB");
  }
  async down(): Promise<void> {}
}

test("processes opening a fresh database together start quietly, each with the migrations run", async () => {
  const fresh = `minis3_t_${randomBytes(6).toString("hex")}`;
  const url = `mysql://root@127.0.0.1:3306/${fresh}`;
  const lines: string[] = [];
  const spies = (["log", "info", "warn", "error"] as const).map((m) =>
    jest.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    }),
  );
  // poolSize 4: TypeORM holds one connection for the migrations and asks for another inside them.
  const opened = await Promise.allSettled([1, 2, 3, 4].map(() => openDataSource({ url, migrations: [Probe1700000000000], poolSize: 4 })));
  for (const s of spies) s.mockRestore();
  const sources = opened.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
  try {
    expect(opened.filter((o) => o.status === "rejected")).toEqual([]);
    expect(lines.filter((l) => /query failed|already exists/i.test(l))).toEqual([]);
    expect(await sources[0].query("SELECT COUNT(*) AS n FROM probe")).toEqual([{ n: 0 }]);
    const ran = (await sources[0].query("SELECT DISTINCT name FROM schema_migrations")) as { name: string }[];
    expect(ran.map((r) => r.name)).toEqual(["Probe1700000000000"]);
  } finally {
    if (sources.length) await sources[0].query(`DROP DATABASE IF EXISTS \`${fresh}\``);
    await Promise.all(sources.map((d) => d.destroy()));
  }
});

test("TypeORM's connections get the same small prepared-statement cache as our pools (it drops options it does not know)", async () => {
  const conn = await sqlPool(ds).getConnection();
  try {
    expect((conn.connection as unknown as { _statements: { max: number } })._statements.max).toBe(MAX_PREPARED_STATEMENTS);
  } finally {
    conn.release();
  }
});
