import { setTimeout as sleep } from "node:timers/promises";
import { createPool, type Pool, type RowDataPacket } from "mysql2/promise";
import { CatalogueClock } from "./catalogue-clock";

// The shared MariaDB's own clock, and a pool of one connection that a slow query holds: the clock's
// reading then waits for the connection before its query is even sent.

let pool: Pool;
beforeAll(() => {
  pool = createPool({ host: "127.0.0.1", port: 3306, user: "root", connectionLimit: 1 });
});
afterAll(() => pool.end());

async function mariadbNow(): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>("SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED) AS ms");
  return Number(rows[0].ms);
}

test("a reading taken while the pool has no free connection does not run ahead of MariaDB's clock", async () => {
  const busy = pool.query("SELECT SLEEP(0.8)");
  await sleep(50); // the slow query has the connection
  const clock = new CatalogueClock(pool);
  const reading = await clock.now(); // synced after waiting ~0.75 s for the connection
  const after = await mariadbNow();
  await busy;
  // Taken as read mid-way through the wait and the query, it ran ~0.4 s ahead; purges and takeovers
  // compared on it came early. 2 ms for NOW(3)'s and the reading's rounding.
  expect(reading).toBeLessThanOrEqual(after + 2);
  // Still MariaDB's time, not far behind it.
  expect(after - reading).toBeLessThan(500);
});
