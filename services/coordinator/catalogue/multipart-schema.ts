import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Multipart uploads in progress and their parts (S3's CreateMultipartUpload … Complete).
 *
 * `multipart_uploads`: one row per upload, from Create until Abort, or until a while after
 * Complete (a completed row answers a client's retried Complete with the same result).
 * `state`: open (parts may come), completing (a Complete is copying the parts into the object;
 * parts are refused), completed (`version_id`, `etag` say what it made).
 *
 * `multipart_parts`: one row per part number, naming the blob that holds the part's bytes
 * (`blob_id`, a version id never used by `versions`) and the nodes holding its copies. The orphan
 * sweep counts these as named copies (scrub-queries.ts: namedNodes), so a part is never swept;
 * repair, rehome and the scrubber walk `versions` only and never see parts.
 *
 * Keys are VARBINARY like `objects` (byte order = S3's listing order). No auto-increment ids.
 */
export class CreateMultipart1732500000500 implements MigrationInterface {
  name = "CreateMultipart1732500000500";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS multipart_uploads (
      upload_id CHAR(28) CHARACTER SET ascii NOT NULL,
      bucket VARBINARY(63) NOT NULL,
      object_key VARBINARY(1024) NOT NULL,
      content_type VARCHAR(255) NOT NULL,
      metadata TEXT NULL,
      created_ms BIGINT NOT NULL,
      state VARCHAR(10) CHARACTER SET ascii NOT NULL COMMENT 'open | completing | completed',
      state_ms BIGINT NOT NULL COMMENT 'when state last changed',
      version_id CHAR(28) CHARACTER SET ascii NULL COMMENT 'the object a Complete made',
      etag VARCHAR(48) CHARACTER SET ascii NULL COMMENT 'its multipart ETag (hex-N)',
      PRIMARY KEY (upload_id),
      KEY multipart_by_key (bucket, object_key, upload_id),
      KEY multipart_by_state (state, state_ms)
    ) ENGINE=InnoDB`);
    await q.query(`CREATE TABLE IF NOT EXISTS multipart_parts (
      upload_id CHAR(28) CHARACTER SET ascii NOT NULL,
      part_number SMALLINT UNSIGNED NOT NULL,
      size BIGINT UNSIGNED NOT NULL,
      etag CHAR(32) CHARACTER SET ascii NOT NULL COMMENT 'hex md5 of the part',
      sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
      blob_id CHAR(28) CHARACTER SET ascii NOT NULL COMMENT 'the blob holding the bytes on the nodes',
      replicas VARCHAR(1024) CHARACTER SET ascii NOT NULL COMMENT 'comma-separated ids of the nodes holding the blob',
      created_ms BIGINT NOT NULL,
      PRIMARY KEY (upload_id, part_number),
      UNIQUE KEY multipart_parts_by_blob (blob_id)
    ) ENGINE=InnoDB`);
    // A multipart ETag is 32 hex digits, '-' and the part count (up to 10000): 38 characters.
    await q.query("ALTER TABLE versions MODIFY COLUMN etag VARCHAR(48) CHARACTER SET ascii NOT NULL");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP TABLE IF EXISTS multipart_parts");
    await q.query("DROP TABLE IF EXISTS multipart_uploads");
  }
}
