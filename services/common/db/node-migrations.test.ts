import { randomBytes } from "node:crypto";
import type { Pool } from "mysql2/promise";
import { NODES_MIGRATIONS } from "../../membership/nodes-schema";
import { addColumn } from "./add-column";
import { openNodeDatabase, pendingMigrations } from "./node-migrations";
import { openPool } from "./pool";

// A node opens its database without TypeORM when its tables are there (a restart), and makes them
// with TypeORM's migrations when they are not (a first start, or a new migration).

const name = `minis3_t_${randomBytes(6).toString("hex")}`;
const url = `mysql://root@127.0.0.1:3306/${name}`;
const pools: Pool[] = [];

afterAll(async () => {
  try {
    await pools[0]?.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

test("a first start makes the database and the node's tables; a restart finds nothing pending; a new migration is pending", async () => {
  const first = await openNodeDatabase(url, NODES_MIGRATIONS, 2);
  pools.push(first);
  const [tables] = await first.query("SHOW TABLES LIKE 'nodes'");
  expect(tables).toHaveLength(1);
  expect(await pendingMigrations(first, NODES_MIGRATIONS)).toBe(false);

  const later = addColumn("AddNodesTestColumn1999999999999", "nodes", "test_column", "INT NULL");
  expect(await pendingMigrations(first, [...NODES_MIGRATIONS, later])).toBe(true);
  const again = await openNodeDatabase(url, [...NODES_MIGRATIONS, later], 2);
  pools.push(again);
  const [columns] = await again.query("SHOW COLUMNS FROM nodes LIKE 'test_column'");
  expect(columns).toHaveLength(1);
  expect(await pendingMigrations(again, [...NODES_MIGRATIONS, later])).toBe(false);
});

test("a database that is not there yet has everything pending", async () => {
  const pool = openPool({ url: `mysql://root@127.0.0.1:3306/${name}_absent`, poolSize: 1 });
  try {
    expect(await pendingMigrations(pool, NODES_MIGRATIONS)).toBe(true);
  } finally {
    await pool.end();
  }
});
