import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Buckets are rows (issue 14 item 5): created, listed, deleted when empty. Objects stored before
 * buckets were rows keep their buckets: the migration makes a row for each bucket that has a
 * visible object (created at its oldest one), INSERT IGNORE so running it again changes nothing.
 * `owner` is the user who created it through S3; "" for one made by an upload (facade, gRPC).
 */
export class CreateBuckets1732500000600 implements MigrationInterface {
  name = "CreateBuckets1732500000600";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS buckets (
      name VARBINARY(63) NOT NULL,
      created_ms BIGINT NOT NULL,
      owner VARCHAR(128) NOT NULL DEFAULT '',
      PRIMARY KEY (name)
    ) ENGINE=InnoDB`);
    await q.query(`INSERT IGNORE INTO buckets (name, created_ms, owner)
      SELECT o.bucket, MIN(v.created_ms), '' FROM objects o JOIN versions v ON v.version_id = o.version_id GROUP BY o.bucket`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP TABLE IF EXISTS buckets");
  }
}
