import type { Pool, PoolConnection, RowDataPacket } from "mysql2/promise";
import { AbortedError } from "../common/errors";
import type { BlobMeta } from "../rpc/blob-backend";
import type { StoredChunk } from "./chunk-codec";
import { CHUNK_COLUMNS, toStoredChunk, type CopyKey } from "./chunk-rows";
import { inTransaction } from "../common/db/transaction";

// SQL for blob rows (one per stored copy). Only "complete" rows are visible; commit() is the one
// place a copy turns complete, under row locks on every copy of that blob id.

/** A complete copy: its meta plus what a reader needs to find its chunks. */
export interface StoredCopy {
  meta: BlobMeta;
  writeId: string;
  chunkCount: number;
  chunkSize: number;
}

/** What commit records for a copy whose bytes are all written. */
export interface FinishedCopy {
  size: number;
  sha256: Buffer;
  chunkCount: number;
  chunkSize: number;
  attributes: Record<string, string>;
  storedAtMs: number;
}

export type CommitOutcome =
  /** This copy is now the visible one; `replaced` copies are invisible and must be purged. */
  | { kind: "committed"; meta: BlobMeta; replaced: HiddenCopy[] }
  /** An identical complete copy existed and stays; this copy must be purged. */
  | { kind: "kept"; meta: BlobMeta };

/** A copy made invisible (state "deleting"), still to be purged. */
export interface HiddenCopy extends CopyKey {
  size: number;
}

const META_COLUMNS = "blob_id, write_id, state, size, sha256, chunk_count, chunk_size, attributes, stored_at_ms";

export async function insertWritingCopy(pool: Pool, key: CopyKey, attributes: Record<string, string>, nowMs: number): Promise<void> {
  await pool.execute(
    `INSERT INTO backup_blobs (node_id, blob_id, write_id, state, attributes, stored_at_ms)
     VALUES (?, ?, ?, 'writing', ?, ?)`,
    [key.nodeId, key.blobId, key.writeId, JSON.stringify(attributes), nowMs],
  );
}

export async function selectCompleteCopy(pool: Pool, nodeId: string, blobId: string): Promise<StoredCopy | null> {
  const [rows] = await pool.execute<RowDataPacket[]>(
    `SELECT ${META_COLUMNS} FROM backup_blobs WHERE node_id = ? AND blob_id = ? AND state = 'complete' LIMIT 1`,
    [nodeId, blobId],
  );
  return rows[0] ? toStoredCopy(rows[0]) : null;
}

/** A complete copy, with its only chunk when it has one (every small blob). */
export interface CopyWithChunk {
  copy: StoredCopy;
  only?: StoredChunk;
}

/**
 * The complete copies of many blob ids in one query, each with its chunk if it has exactly one:
 * a small read costs a share of one round trip instead of two (the copy, then its chunk).
 */
export async function selectCompleteCopies(pool: Pool, nodeId: string, blobIds: string[]): Promise<(CopyWithChunk | null)[]> {
  const [rows] = await pool.execute<RowDataPacket[]>(
    `SELECT ${META_COLUMNS.split(", ")
      .map((c) => `b.${c}`)
      .join(", ")}, ${CHUNK_COLUMNS.map((c) => `c.${c}`).join(", ")}
       FROM backup_blobs b LEFT JOIN backup_chunks c
         ON b.chunk_count = 1 AND c.node_id = b.node_id AND c.blob_id = b.blob_id AND c.write_id = b.write_id AND c.seq = 0
      WHERE b.node_id = ? AND b.blob_id IN (${blobIds.map(() => "?").join(", ")}) AND b.state = 'complete'`,
    [nodeId, ...blobIds],
  );
  const by = new Map<string, CopyWithChunk>();
  for (const r of rows) {
    const id = String(r.blob_id);
    if (by.has(id)) continue;
    by.set(id, { copy: toStoredCopy(r), only: r.data === null ? undefined : toStoredChunk(r) });
  }
  return blobIds.map((id) => by.get(id) ?? null);
}

/** Makes a fully written copy the visible one, atomically (see CommitOutcome). */
export function commitCopy(pool: Pool, key: CopyKey, fin: FinishedCopy): Promise<CommitOutcome> {
  return inTransaction(pool, async (conn) => {
    // Locks every copy of this blob id, so two commits of the same id run one after the other.
    const [rows] = await conn.execute<RowDataPacket[]>(
      `SELECT ${META_COLUMNS} FROM backup_blobs WHERE node_id = ? AND blob_id = ? FOR UPDATE`,
      [key.nodeId, key.blobId],
    );
    const own = rows.find((r) => r.write_id === key.writeId);
    if (!own || own.state !== "writing") throw new AbortedError(`write of blob ${key.blobId} was cancelled`);
    const decided = await replaceCompleteCopies(conn, key, rows, fin.size, fin.sha256, fin.storedAtMs);
    if (decided.kind === "kept") return decided;
    await conn.execute(
      `UPDATE backup_blobs SET state = 'complete', size = ?, sha256 = ?, chunk_count = ?, chunk_size = ?, stored_at_ms = ?
        WHERE node_id = ? AND blob_id = ? AND write_id = ?`,
      [fin.size, fin.sha256, fin.chunkCount, fin.chunkSize, fin.storedAtMs, key.nodeId, key.blobId, key.writeId],
    );
    const meta: BlobMeta = {
      blobId: key.blobId,
      size: fin.size,
      sha256: fin.sha256,
      storedAtMs: fin.storedAtMs,
      attributes: fin.attributes,
    };
    return { kind: "committed", meta, replaced: decided.replaced };
  });
}

/**
 * Inside a commit, given the locked rows of a blob id: an identical complete copy wins (a retried
 * copy of immutable bytes; readers of it are not disturbed); any other complete copy is hidden.
 * A copy kept takes `storedAtMs`, the new write's: written again, it is a new incarnation to the
 * orphan sweep, which times its grace from the first time it saw an incarnation unnamed. Kept with
 * its old time, an orphan that had sat unnamed for the grace could be deleted as the copy a
 * demotion had just been answered for was about to be named by its commit.
 */
export async function replaceCompleteCopies(
  conn: PoolConnection,
  key: CopyKey,
  lockedRows: RowDataPacket[],
  size: number,
  sha256: Buffer,
  storedAtMs: number,
): Promise<{ kind: "kept"; meta: BlobMeta } | { kind: "replace"; replaced: HiddenCopy[] }> {
  const complete = lockedRows.filter((r) => r.state === "complete" && r.write_id !== key.writeId);
  const same = complete.find((r) => Number(r.size) === size && Buffer.compare(r.sha256 as Buffer, sha256) === 0);
  if (same) {
    await conn.execute("UPDATE backup_blobs SET stored_at_ms = ? WHERE node_id = ? AND blob_id = ? AND write_id = ?", [
      storedAtMs,
      key.nodeId,
      key.blobId,
      same.write_id,
    ]);
    return { kind: "kept", meta: { ...toStoredCopy(same).meta, storedAtMs } };
  }
  const replaced: HiddenCopy[] = [];
  for (const r of complete) {
    await conn.execute("UPDATE backup_blobs SET state = 'deleting' WHERE node_id = ? AND blob_id = ? AND write_id = ?", [
      key.nodeId,
      key.blobId,
      r.write_id,
    ]);
    replaced.push({ nodeId: key.nodeId, blobId: key.blobId, writeId: String(r.write_id), size: Number(r.size) });
  }
  return { kind: "replace", replaced };
}

/** What deleting one blob id found: whether a complete copy existed, its size, copies left to purge. */
export interface HiddenBlob {
  existed: boolean;
  size: number;
  /** Copies made invisible whose chunks are still there (too many to delete in the batch). */
  copies: CopyKey[];
}

/**
 * Deletes many blob ids in one transaction (distinct ids): every copy that is not being written is
 * hidden, and those of at most `inlineChunks` chunks (small blobs: one chunk row) go at once, rows
 * and chunks, in the same transaction, so nothing is left to purge. Larger copies are only hidden
 * and returned, to be purged a few chunks at a time. One delete used to cost three commits and six
 * round trips (hide, then purge chunks, then the row): the trash moves from the cold tier waited
 * on them under the catalogue's row locks.
 *
 * An id whose every copy is small and none being written (nearly always) goes by its key prefix,
 * `node_id = ? AND blob_id IN (…)`, not by a `(node_id, blob_id, write_id) IN ((…), …)` list of
 * its copies: 20,000 deletes, 512 waiting, alternated, mariadbd 62-78 µs a delete against 111-183,
 * 1.6-2.2x the deletes a second (bench/micro/backup-delete.ts; bench/README "The lifecycle alone",
 * Step 7). The locked SELECT reads every copy of the ids, and under REPEATABLE READ its next-key
 * locks on the prefixes keep out a copy inserted after it (a new write's row waits for the commit),
 * so the prefix removes exactly the copies it saw.
 */
export function deleteBlobs(pool: Pool, nodeId: string, blobIds: string[], inlineChunks: number): Promise<HiddenBlob[]> {
  return inTransaction(pool, async (conn) => {
    const ids = blobIds.map(() => "?").join(", ");
    const [all] = await conn.execute<RowDataPacket[]>(
      `SELECT blob_id, write_id, state, size, chunk_count FROM backup_blobs
        WHERE node_id = ? AND blob_id IN (${ids}) ORDER BY blob_id, write_id FOR UPDATE`,
      [nodeId, ...blobIds],
    );
    const rows = all.filter((r) => r.state !== "writing");
    const small = rows.filter((r) => Number(r.chunk_count) <= inlineChunks);
    const large = rows.filter((r) => Number(r.chunk_count) > inlineChunks);
    // Ids with a copy being written or a large one keep those: their small copies go one by one.
    const keep = new Set(all.filter((r) => r.state === "writing" || Number(r.chunk_count) > inlineChunks).map((r) => String(r.blob_id)));
    const whole = [...new Set(small.map((r) => String(r.blob_id)))].filter((id) => !keep.has(id));
    if (whole.length) {
      const prefixes = whole.map(() => "?").join(", ");
      await conn.execute(`DELETE FROM backup_chunks WHERE node_id = ? AND blob_id IN (${prefixes})`, [nodeId, ...whole]);
      await conn.execute(`DELETE FROM backup_blobs WHERE node_id = ? AND blob_id IN (${prefixes})`, [nodeId, ...whole]);
    }
    const some = small.filter((r) => keep.has(String(r.blob_id)));
    if (some.length) {
      const copies = some.map(() => "(?, ?, ?)").join(", ");
      const params = some.flatMap((r) => [nodeId, String(r.blob_id), String(r.write_id)]);
      await conn.execute(`DELETE FROM backup_chunks WHERE (node_id, blob_id, write_id) IN (${copies})`, params);
      await conn.execute(`DELETE FROM backup_blobs WHERE (node_id, blob_id, write_id) IN (${copies})`, params);
    }
    const hide = large.filter((r) => r.state === "complete");
    if (hide.length) {
      await conn.execute(
        `UPDATE backup_blobs SET state = 'deleting' WHERE (node_id, blob_id, write_id) IN (${hide.map(() => "(?, ?, ?)").join(", ")})`,
        hide.flatMap((r) => [nodeId, String(r.blob_id), String(r.write_id)]),
      );
    }
    return blobIds.map((blobId) => {
      const mine = rows.filter((r) => r.blob_id === blobId);
      const complete = mine.filter((r) => r.state === "complete");
      return {
        existed: complete.length > 0,
        size: complete.reduce((n, r) => n + Number(r.size), 0),
        copies: large.filter((r) => r.blob_id === blobId).map((r) => ({ nodeId, blobId, writeId: String(r.write_id) })),
      };
    });
  });
}

/** Complete blobs after `afterBlobId`, in primary-key order. */
export async function selectCompletePage(pool: Pool, nodeId: string, afterBlobId: string, limit: number): Promise<StoredCopy[]> {
  const [rows] = await pool.execute<RowDataPacket[]>(
    `SELECT ${META_COLUMNS} FROM backup_blobs WHERE node_id = ? AND blob_id > ? AND state = 'complete'
      ORDER BY blob_id LIMIT ${Math.max(1, Math.floor(limit))}`,
    [nodeId, afterBlobId],
  );
  return rows.map(toStoredCopy);
}

/** This node's copies left "writing" or "deleting" (by a crash: open() runs before any write). */
export async function selectUnfinishedCopies(pool: Pool, nodeId: string): Promise<CopyKey[]> {
  const [rows] = await pool.execute<RowDataPacket[]>(
    "SELECT blob_id, write_id FROM backup_blobs WHERE node_id = ? AND state IN ('writing', 'deleting')",
    [nodeId],
  );
  return rows.map((r) => ({ nodeId, blobId: String(r.blob_id), writeId: String(r.write_id) }));
}

export async function countComplete(pool: Pool, nodeId: string): Promise<{ blobCount: number; usedBytes: number }> {
  const [rows] = await pool.execute<RowDataPacket[]>(
    "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM backup_blobs WHERE node_id = ? AND state = 'complete'",
    [nodeId],
  );
  return { blobCount: Number(rows[0].n), usedBytes: Number(rows[0].bytes) };
}

export function toStoredCopy(r: RowDataPacket): StoredCopy {
  const attrs = typeof r.attributes === "string" ? JSON.parse(r.attributes) : r.attributes;
  return {
    meta: {
      blobId: String(r.blob_id),
      size: Number(r.size),
      sha256: r.sha256 as Buffer,
      storedAtMs: Number(r.stored_at_ms),
      attributes: (attrs ?? {}) as Record<string, string>,
    },
    writeId: String(r.write_id),
    chunkCount: Number(r.chunk_count),
    chunkSize: Number(r.chunk_size),
  };
}
