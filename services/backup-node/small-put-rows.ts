import type { Pool, RowDataPacket } from "mysql2/promise";
import type { BlobMeta } from "../rpc/blob-backend";
import { replaceCompleteCopies, type CommitOutcome } from "./blob-rows";
import type { EncodedChunk } from "./chunk-codec";
import { CHUNK_VALUES, INSERT_CHUNK_SQL, chunkParams, type CopyKey } from "./chunk-rows";
import { inTransaction } from "../common/db/transaction";

/** A whole small blob, already checked and encoded, ready to be stored as one complete copy. */
export interface SmallPut {
  key: CopyKey;
  meta: BlobMeta;
  /** null for an empty blob (no chunk rows, as a streamed write of 0 bytes). */
  chunk: EncodedChunk | null;
  chunkSize: number;
}

/**
 * Stores several small blobs in one transaction: one locking SELECT over their ids, one multi-row
 * INSERT of blob rows and one of chunk rows. The same rules as a streamed commit apply to each
 * (an identical complete copy is kept; a different one is replaced). Blob ids must be distinct.
 */
export function commitSmallPuts(pool: Pool, nodeId: string, puts: SmallPut[]): Promise<CommitOutcome[]> {
  return inTransaction(pool, async (conn) => {
    const ids = puts.map((p) => p.key.blobId);
    const [rows] = await conn.execute<RowDataPacket[]>(
      `SELECT blob_id, write_id, state, size, sha256, chunk_count, chunk_size, attributes, stored_at_ms
         FROM backup_blobs WHERE node_id = ? AND blob_id IN (${ids.map(() => "?").join(", ")}) FOR UPDATE`,
      [nodeId, ...ids],
    );
    const outcomes: CommitOutcome[] = [];
    const stored: SmallPut[] = [];
    for (const p of puts) {
      const mine = rows.filter((r) => r.blob_id === p.key.blobId);
      const decided = await replaceCompleteCopies(conn, p.key, mine, p.meta.size, p.meta.sha256, p.meta.storedAtMs);
      if (decided.kind === "kept") outcomes.push(decided);
      else {
        outcomes.push({ kind: "committed", meta: p.meta, replaced: decided.replaced });
        stored.push(p);
      }
    }
    if (stored.length) {
      await conn.execute(
        `INSERT INTO backup_blobs (node_id, blob_id, write_id, state, size, sha256, chunk_count, chunk_size, attributes, stored_at_ms)
         VALUES ${stored.map(() => "(?, ?, ?, 'complete', ?, ?, ?, ?, ?, ?)").join(", ")}`,
        stored.flatMap((p) => [
          p.key.nodeId,
          p.key.blobId,
          p.key.writeId,
          p.meta.size,
          p.meta.sha256,
          p.chunk ? 1 : 0,
          p.chunkSize,
          JSON.stringify(p.meta.attributes),
          p.meta.storedAtMs,
        ]),
      );
    }
    const withChunk = stored.filter((p) => p.chunk);
    if (withChunk.length) {
      await conn.execute(
        INSERT_CHUNK_SQL + withChunk.map(() => CHUNK_VALUES).join(", "),
        withChunk.flatMap((p) => chunkParams(p.key, 0, p.chunk!)),
      );
    }
    return outcomes;
  });
}
