import type { MigrationInterface, QueryRunner } from "typeorm";
import type { MigrationClass } from "./datasource";

/**
 * A migration that adds one column to a table, idempotent (IF NOT EXISTS: several processes may run
 * it at once). `name` ends in its 13-digit timestamp, which TypeORM orders migrations by.
 */
export function addColumn(name: string, table: string, column: string, definition: string): MigrationClass {
  return class AddColumn implements MigrationInterface {
    name = name;

    async up(q: QueryRunner): Promise<void> {
      await q.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${column} ${definition}`);
    }

    async down(q: QueryRunner): Promise<void> {
      await q.query(`ALTER TABLE ${table} DROP COLUMN IF EXISTS ${column}`);
    }
  };
}
