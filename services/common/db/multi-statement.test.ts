import { randomBytes } from "node:crypto";
import type { RowDataPacket } from "mysql2/promise";
import type { DataSource } from "typeorm";
import { openDataSource, sqlPool } from "./datasource";
import { MultiStatement } from "./multi-statement";

// A MultiStatement transaction runs READ COMMITTED (no gap locks: concurrent first uploads of new
// keys do not deadlock) on a connection's first transaction and on every later one, and each
// statement's result sits at the index add() gave it.

const name = `minis3_t_${randomBytes(6).toString("hex")}`;
let ds: DataSource;

beforeAll(async () => {
  ds = await openDataSource({ url: `mysql://root@127.0.0.1:3306/${name}`, poolSize: 1, multipleStatements: true });
});

afterAll(async () => {
  try {
    await ds.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await ds.destroy();
  }
});

test("every transaction on a connection is READ COMMITTED, and results keep their indexes", async () => {
  const pool = sqlPool(ds);
  // One connection in the pool: the second and third transactions reuse the first's.
  for (let i = 0; i < 3; i++) {
    const tx = new MultiStatement();
    const one = tx.add("SELECT ? AS n", [i]);
    const level = tx.add("SELECT @@tx_isolation AS level", []);
    const out = await tx.run(pool);
    expect((out[one] as RowDataPacket[])[0].n).toBe(i);
    expect((out[level] as RowDataPacket[])[0].level).toBe("READ-COMMITTED");
  }
});

test("a connection's next transaction after a failed one still runs READ COMMITTED", async () => {
  const pool = sqlPool(ds);
  const bad = new MultiStatement();
  bad.add("SELECT * FROM no_such_table", []);
  await expect(bad.run(pool)).rejects.toThrow();
  const tx = new MultiStatement();
  const level = tx.add("SELECT @@tx_isolation AS level", []);
  const out = await tx.run(pool);
  expect((out[level] as RowDataPacket[])[0].level).toBe("READ-COMMITTED");
});
