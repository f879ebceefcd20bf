import type { MigrationInterface, QueryRunner } from "typeorm";
import { addColumn } from "../common/db/add-column";

/**
 * The cold tier's tables, and their one description: rows are written and read with prepared
 * statements (blob-rows.ts, chunk-rows.ts), never through TypeORM entities. Idempotent (IF NOT
 * EXISTS), so several backup nodes starting at once against one database are safe. Every key
 * starts with node_id: nodes can share a database.
 *
 * backup_blobs: one stored copy of a blob. A blob id can have several copies for a moment (a
 * retried write in progress next to a complete copy), told apart by write_id (random per write
 * attempt, so a retried copy never mixes its chunks with another's); commit leaves exactly one
 * complete. state is writing | complete | deleting: only complete rows are visible to readers.
 * chunk_size is the raw size of every chunk but the last: a range read finds its first chunk by
 * division.
 *
 * backup_chunks: one chunk (<= 1 MiB raw) of a copy, compressed when that saves space (codec).
 * checksum, checked on every read, is the CRC-32 of the stored (possibly compressed) bytes, and of
 * the chunk's place too (blob id, write id, seq) in rows whose check_form says so (every row
 * written since AddChunkCheckForm: chunk-codec.ts, placedChecksum).
 */
export class CreateBackupTables1732600000000 implements MigrationInterface {
  name = "CreateBackupTables1732600000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS backup_blobs (
      node_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      blob_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      write_id CHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      state VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      size BIGINT NOT NULL DEFAULT 0,
      sha256 BINARY(32) NULL,
      chunk_count INT UNSIGNED NOT NULL DEFAULT 0,
      chunk_size INT UNSIGNED NOT NULL DEFAULT 0,
      attributes JSON NOT NULL,
      stored_at_ms BIGINT NOT NULL,
      PRIMARY KEY (node_id, blob_id, write_id),
      KEY backup_blobs_state (node_id, state)
    ) ENGINE=InnoDB`);
    await q.query(`CREATE TABLE IF NOT EXISTS backup_chunks (
      node_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      blob_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      write_id CHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      seq INT UNSIGNED NOT NULL,
      codec VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      raw_size INT UNSIGNED NOT NULL,
      stored_size INT UNSIGNED NOT NULL,
      checksum INT UNSIGNED NOT NULL,
      data LONGBLOB NOT NULL,
      PRIMARY KEY (node_id, blob_id, write_id, seq)
    ) ENGINE=InnoDB`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP TABLE IF EXISTS backup_chunks");
    await q.query("DROP TABLE IF EXISTS backup_blobs");
  }
}

/**
 * What a chunk row's checksum covers (chunk-codec.ts, CHECKS_*): 0, the stored bytes only, which
 * every row written before this column takes by default (and one an older node still inserts);
 * 1, the bytes and the chunk's place, for every row written since. A column of its own, not a codec
 * name: the codec says how the bytes are packed, this how they are checked. MariaDB adds a column
 * with a constant default in place, without copying the table's chunks.
 */
export const AddChunkCheckForm1732600000100 = addColumn(
  "AddChunkCheckForm1732600000100",
  "backup_chunks",
  "check_form",
  "TINYINT UNSIGNED NOT NULL DEFAULT 0",
);

export const BACKUP_MIGRATIONS = [CreateBackupTables1732600000000, AddChunkCheckForm1732600000100];
