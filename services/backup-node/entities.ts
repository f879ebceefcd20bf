import { Column, Entity, PrimaryColumn } from "typeorm";

// The cold tier's two tables. Every column names its SQL type, so runners without decorator
// metadata (tsx) load these too. Rows are written with raw prepared statements (see blob-rows.ts,
// chunk-rows.ts); the entities document the schema and let TypeORM tools see it.

/** Lifecycle of one stored copy: only "complete" rows are visible to readers. */
export type BlobState = "writing" | "complete" | "deleting";

/**
 * One stored copy of a blob. A blob id can have several copies for a moment (a retried write in
 * progress next to a complete copy), told apart by write_id; commit leaves exactly one complete.
 */
@Entity({ name: "backup_blobs" })
export class BackupBlobRow {
  @PrimaryColumn({ name: "node_id", type: "varchar", length: 64, charset: "ascii", collation: "ascii_bin" })
  nodeId: string;

  @PrimaryColumn({ name: "blob_id", type: "varchar", length: 128, charset: "ascii", collation: "ascii_bin" })
  blobId: string;

  /** Random per write attempt, so a retried copy never mixes its chunks with another's. */
  @PrimaryColumn({ name: "write_id", type: "char", length: 16, charset: "ascii", collation: "ascii_bin" })
  writeId: string;

  @Column({ name: "state", type: "varchar", length: 16, charset: "ascii", collation: "ascii_bin" })
  state: BlobState;

  @Column({ name: "size", type: "bigint", default: 0 })
  size: number;

  @Column({ name: "sha256", type: "binary", length: 32, nullable: true })
  sha256: Buffer | null;

  @Column({ name: "chunk_count", type: "int", unsigned: true, default: 0 })
  chunkCount: number;

  /** Raw size of every chunk but the last: a range read finds its first chunk by division. */
  @Column({ name: "chunk_size", type: "int", unsigned: true, default: 0 })
  chunkSize: number;

  @Column({ name: "attributes", type: "json" })
  attributes: Record<string, string>;

  @Column({ name: "stored_at_ms", type: "bigint" })
  storedAtMs: number;
}

/** One chunk (≤ 1 MiB raw) of a copy, compressed when that saves space. */
@Entity({ name: "backup_chunks" })
export class BackupChunkRow {
  @PrimaryColumn({ name: "node_id", type: "varchar", length: 64, charset: "ascii", collation: "ascii_bin" })
  nodeId: string;

  @PrimaryColumn({ name: "blob_id", type: "varchar", length: 128, charset: "ascii", collation: "ascii_bin" })
  blobId: string;

  @PrimaryColumn({ name: "write_id", type: "char", length: 16, charset: "ascii", collation: "ascii_bin" })
  writeId: string;

  @PrimaryColumn({ name: "seq", type: "int", unsigned: true })
  seq: number;

  @Column({ name: "codec", type: "varchar", length: 16, charset: "ascii", collation: "ascii_bin" })
  codec: string;

  @Column({ name: "raw_size", type: "int", unsigned: true })
  rawSize: number;

  @Column({ name: "stored_size", type: "int", unsigned: true })
  storedSize: number;

  /** CRC-32 of the stored (possibly compressed) bytes, checked on every read. */
  @Column({ name: "checksum", type: "int", unsigned: true })
  checksum: number;

  @Column({ name: "data", type: "longblob" })
  data: Buffer;
}

export const BACKUP_ENTITIES = [BackupBlobRow, BackupChunkRow];
