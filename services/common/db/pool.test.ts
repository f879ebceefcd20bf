import { randomBytes } from "node:crypto";
import { createConnection, type Connection, type Pool, type RowDataPacket } from "mysql2/promise";
import { isDatabaseUnavailable } from "./datasource";
import { ensureDatabase, MAX_PREPARED_STATEMENTS, openPool, parseMysqlUrl } from "./pool";

// What a MariaDB restart does to a pool: it closes every connection. One idle then is dropped by
// mysql2 as its socket ends (PoolConnection removes itself on the socket's 'end'), so the next
// statements run on new connections and none fails; nothing in MiniS3 retries a statement on a
// fresh connection. One closed while its statement runs fails that statement as "unavailable"
// (a 503), whose outcome is unknown: it is not retried.

const url = `mysql://root@127.0.0.1:3306/minis3_t_${randomBytes(6).toString("hex")}`;
let pool: Pool;
let admin: Connection;

beforeAll(async () => {
  await ensureDatabase(parseMysqlUrl(url));
  pool = openPool({ url, poolSize: 4, commandTimeoutMs: 5_000 });
  admin = await createConnection({ host: "127.0.0.1", port: 3306, user: "root" });
});

afterAll(async () => {
  await admin?.query(`DROP DATABASE IF EXISTS \`${parseMysqlUrl(url).database}\``);
  await admin?.end();
  await pool?.end();
});

const threadIds = async (n: number): Promise<number[]> => {
  // n at once, so each takes its own connection
  const answers = await Promise.all(
    Array.from({ length: n }, () => pool.query<RowDataPacket[]>("SELECT CONNECTION_ID() AS id, SLEEP(0.05)")),
  );
  return answers.map(([rows]) => Number(rows[0].id));
};

test("connections the server closed while idle are not handed out again: the statements after all succeed, on new connections", async () => {
  const before = await threadIds(4);
  for (const id of before) await admin.query(`KILL CONNECTION ${id}`);
  await new Promise((r) => setTimeout(r, 200)); // the sockets' ends reach the pool (a restart takes seconds)

  const after = await Promise.allSettled(Array.from({ length: 8 }, () => pool.query<RowDataPacket[]>("SELECT CONNECTION_ID() AS id")));
  const ids = after.map((o) => (o.status === "fulfilled" ? Number(o.value[0][0].id) : `failed: ${(o.reason as Error).message}`));
  expect(ids.filter((id) => typeof id !== "number")).toEqual([]);
  expect(ids.filter((id) => before.includes(id as number))).toEqual([]);
});

test("a statement whose connection the server closes while it runs fails as 'unavailable' (503: its outcome is unknown)", async () => {
  const conn = await pool.getConnection();
  try {
    const [[mine]] = await conn.query<RowDataPacket[]>("SELECT CONNECTION_ID() AS id");
    const running = conn.query("SELECT SLEEP(5)");
    await new Promise((r) => setTimeout(r, 100));
    await admin.query(`KILL CONNECTION ${Number(mine.id)}`);
    const err = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDatabaseUnavailable(err)).toBe(true);
  } finally {
    conn.release();
  }
  const [[again]] = await pool.query<RowDataPacket[]>("SELECT 1 AS one");
  expect(again.one).toBe(1);
});

/** The slots a pooled connection's prepared-statement cache was made with (mysql2 allocates them all at once). */
const statementSlots = (conn: { connection: unknown }): number => (conn.connection as { _statements: { max: number } })._statements.max;

test("a connection's prepared-statement cache is sized for MiniS3's statements, not mysql2's 16000 (0.5 MiB of heap per connection)", async () => {
  const conn = await pool.getConnection();
  try {
    await conn.execute("SELECT ? AS one", [1]);
    expect(statementSlots(conn)).toBe(MAX_PREPARED_STATEMENTS);
    expect(MAX_PREPARED_STATEMENTS).toBeLessThanOrEqual(1024);
  } finally {
    conn.release();
  }
});
