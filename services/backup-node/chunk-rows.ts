import type { Pool, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { storedAt, type EncodedChunk, type StoredChunk } from "./chunk-codec";

// SQL for chunk rows. Everything goes through mysql2 execute(): the binary protocol sends a Buffer
// as raw bytes, where TypeORM's text protocol would double it as hex.

/** Names one stored copy of a blob. */
export interface CopyKey {
  nodeId: string;
  blobId: string;
  writeId: string;
}

export const INSERT_CHUNK_SQL = `INSERT INTO backup_chunks
  (node_id, blob_id, write_id, seq, codec, raw_size, stored_size, checksum, check_form, data) VALUES `;
export const CHUNK_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/** A new row's values: its checksum binds its place (storedAt). */
export function chunkParams(key: CopyKey, seq: number, c: EncodedChunk): Array<string | number | Buffer> {
  const row = storedAt(c, { blobId: key.blobId, writeId: key.writeId, seq });
  return [key.nodeId, key.blobId, key.writeId, seq, row.codec, row.rawSize, row.storedSize, row.checksum, row.checkForm, row.data];
}

export async function insertChunk(pool: Pool, key: CopyKey, seq: number, chunk: EncodedChunk): Promise<void> {
  await pool.execute(INSERT_CHUNK_SQL + CHUNK_VALUES, chunkParams(key, seq, chunk));
}

/** One chunk by primary key, or null if it is not there (deleted or replaced meanwhile). */
export async function selectChunk(pool: Pool, key: CopyKey, seq: number): Promise<StoredChunk | null> {
  const [rows] = await pool.execute<RowDataPacket[]>(
    `SELECT ${CHUNK_COLUMNS.join(", ")} FROM backup_chunks
      WHERE node_id = ? AND blob_id = ? AND write_id = ? AND seq = ?`,
    [key.nodeId, key.blobId, key.writeId, seq],
  );
  return rows[0] ? toStoredChunk(rows[0]) : null;
}

/** The columns toStoredChunk reads. */
export const CHUNK_COLUMNS = ["codec", "raw_size", "stored_size", "checksum", "check_form", "data"];

export function toStoredChunk(r: RowDataPacket): StoredChunk {
  return {
    codec: String(r.codec),
    rawSize: Number(r.raw_size),
    storedSize: Number(r.stored_size),
    checksum: Number(r.checksum),
    checkForm: Number(r.check_form),
    data: r.data as Buffer,
  };
}

/** Chunks deleted per statement: keeps each transaction (and Galera write set) small. */
const DELETE_BATCH = 16;

/**
 * Removes a copy: its chunks a few at a time, then its blob row. Call it only on copies that are
 * already invisible ("writing" or "deleting"); if it stops half way, the open() sweep finishes it.
 */
export async function purgeCopy(pool: Pool, key: CopyKey): Promise<void> {
  // A commit whose answer was lost (its connection cut, MariaDB killed after its fsync) may have
  // made the copy complete: then its chunks are the blob's bytes and stay, whatever the writer
  // heard. Deleted, they left a complete row naming no chunks, which a retried copy of the same
  // bytes then kept as "identical" (a demotion's only copy, unreadable). The locking read waits
  // for a commit still running on the cut connection and sees what it decided.
  const [rows] = await pool.execute<RowDataPacket[]>(
    "SELECT state FROM backup_blobs WHERE node_id = ? AND blob_id = ? AND write_id = ? LOCK IN SHARE MODE",
    [key.nodeId, key.blobId, key.writeId],
  );
  if (rows[0]?.state === "complete") return;
  for (;;) {
    const [res] = await pool.execute<ResultSetHeader>(
      `DELETE FROM backup_chunks WHERE node_id = ? AND blob_id = ? AND write_id = ?
        ORDER BY seq LIMIT ${DELETE_BATCH}`,
      [key.nodeId, key.blobId, key.writeId],
    );
    if (res.affectedRows < DELETE_BATCH) break;
  }
  await pool.execute("DELETE FROM backup_blobs WHERE node_id = ? AND blob_id = ? AND write_id = ? AND state <> 'complete'", [
    key.nodeId,
    key.blobId,
    key.writeId,
  ]);
}
