import { randomBytes } from "node:crypto";
import type { Pool } from "mysql2/promise";
import type { DataSource } from "typeorm";
import { openDataSource, sqlPool } from "../../../common/db/datasource";
import type { MigrationInterface } from "typeorm";
import { CATALOGUE_MIGRATIONS } from "../catalogue-schema";

/**
 * A catalogue database of its own on the shared MariaDB, for one test file: call in the file's
 * top level; `pool()` is ready once beforeAll ran, and the database is dropped after all.
 */
export function throwawayCatalogueDatabase(
  /** More tables than the catalogue's (the coordinators' own, say). */
  moreMigrations: (new () => MigrationInterface)[] = [],
): { pool: () => Pool } {
  let ds: DataSource;
  let pool: Pool;
  const dbName = `minis3_t_${randomBytes(6).toString("hex")}`;
  beforeAll(async () => {
    ds = await openDataSource({
      url: `mysql://root@127.0.0.1:3306/${dbName}`,
      migrations: [...CATALOGUE_MIGRATIONS, ...moreMigrations],
      poolSize: 8,
      multipleStatements: true,
    });
    pool = sqlPool(ds);
  });
  afterAll(async () => {
    try {
      await ds.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    } finally {
      await ds.destroy();
    }
  });
  return { pool: () => pool };
}
