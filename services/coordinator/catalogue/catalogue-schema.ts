import type { MigrationInterface, QueryRunner } from "typeorm";
import { addColumn } from "../../common/db/add-column";
import { CreateBuckets1732500000600 } from "./buckets-schema";
import { CreateMultipart1732500000500 } from "./multipart-schema";

/**
 * The catalogue: `objects` maps (bucket, key) to the visible version; `versions` holds every version
 * still somewhere (live, or in the trash until purged) with where its bytes are.
 *
 * Keys are VARBINARY: S3 keys are up to 1024 bytes, compared byte-wise (the listing order), and a
 * utf8mb4 VARCHAR(1024) would not fit InnoDB's 3072-byte index limit. Times are epoch ms (BIGINT):
 * no time zones, and the lifecycle does arithmetic on them. No auto-increment ids anywhere (Galera).
 */
export class CreateCatalogue1732500000100 implements MigrationInterface {
  name = "CreateCatalogue1732500000100";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS objects (
      bucket VARBINARY(63) NOT NULL,
      object_key VARBINARY(1024) NOT NULL,
      version_id CHAR(28) CHARACTER SET ascii NOT NULL,
      PRIMARY KEY (bucket, object_key)
    ) ENGINE=InnoDB`);
    await q.query(`CREATE TABLE IF NOT EXISTS versions (
      version_id CHAR(28) CHARACTER SET ascii NOT NULL,
      bucket VARBINARY(63) NOT NULL,
      object_key VARBINARY(1024) NOT NULL,
      size BIGINT UNSIGNED NOT NULL,
      sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
      etag CHAR(32) CHARACTER SET ascii NOT NULL,
      content_type VARCHAR(255) NOT NULL,
      metadata TEXT NULL,
      state VARCHAR(8) CHARACTER SET ascii NOT NULL COMMENT 'live | trash | purging',
      tier VARCHAR(8) CHARACTER SET ascii NOT NULL COMMENT 'where the bytes are: hot | cold | trash',
      replicas VARCHAR(1024) CHARACTER SET ascii NOT NULL COMMENT 'comma-separated ids of the nodes holding the bytes',
      cleanup VARCHAR(1024) CHARACTER SET ascii NOT NULL DEFAULT '' COMMENT 'nodes whose copies are left over from a transition',
      created_ms BIGINT NOT NULL,
      accessed_ms BIGINT NOT NULL,
      deleted_ms BIGINT NULL,
      purge_ms BIGINT NULL,
      reason VARCHAR(12) CHARACTER SET ascii NULL COMMENT 'deleted | overwritten',
      PRIMARY KEY (version_id),
      KEY versions_by_key (bucket, object_key, state),
      KEY versions_by_tier (state, tier, accessed_ms),
      KEY versions_by_purge (state, purge_ms)
    ) ENGINE=InnoDB`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP TABLE IF EXISTS objects");
    await q.query("DROP TABLE IF EXISTS versions");
  }
}

/**
 * `gen`, the version's generation: every change of the row adds one and every conditional change
 * compares it (review finding 14). A migration of its own, so catalogues created before it get it.
 */
export const AddVersionGeneration1732500000300 = addColumn(
  "AddVersionGeneration1732500000300",
  "versions",
  "gen",
  "BIGINT UNSIGNED NOT NULL DEFAULT 0",
);

/**
 * `request_id`: the request that sent the version toward the trash (its delete, the overwrite or
 * undelete that replaced it), so the due-row poller runs its trash move and purge under that id
 * (ARCHITECTURE.md "Request ids"). Null on live rows and rows trashed by no request. Ascii, as
 * long as an accepted id (common/request-context.ts).
 */
export const AddVersionRequestId1732500000700 = addColumn(
  "AddVersionRequestId1732500000700",
  "versions",
  "request_id",
  "VARCHAR(128) CHARACTER SET ascii NULL",
);

/** The catalogue's migrations, in order. */
export const CATALOGUE_MIGRATIONS = [
  CreateCatalogue1732500000100,
  AddVersionGeneration1732500000300,
  CreateMultipart1732500000500,
  CreateBuckets1732500000600,
  AddVersionRequestId1732500000700,
];
