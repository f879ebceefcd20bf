import { createHash } from "node:crypto";
import type { Pool } from "mysql2/promise";
import { IntegrityError, NotFoundError } from "../common/errors";
import { selectCompleteCopy, type StoredCopy } from "./blob-rows";
import { decodeChunk, type StoredChunk } from "./chunk-codec";
import { selectChunk, type CopyKey } from "./chunk-rows";

/**
 * Streams bytes [offset, offset + length) of a complete copy, one chunk row (one SELECT by
 * primary key) at a time, with the next chunk fetched while the caller consumes this one.
 * Memory: about two chunks, whatever the blob's size. Every chunk's checksum is verified, and
 * binds the chunk to its place (blob, copy, seq) unless the row is of the old form; a read of the
 * whole blob also checks its sha256 before its last piece (a ranged read cannot).
 */
export async function* streamRange(
  pool: Pool,
  nodeId: string,
  copy: StoredCopy,
  offset: number,
  length: number,
  /** Chunk 0, when it was read with the copy (a small blob's only chunk). */
  chunk0?: StoredChunk,
): AsyncGenerator<Buffer> {
  if (length <= 0) return;
  const { chunkSize, chunkCount, meta } = copy;
  const key: CopyKey = { nodeId, blobId: meta.blobId, writeId: copy.writeId };
  const first = Math.floor(offset / chunkSize);
  const last = Math.floor((offset + length - 1) / chunkSize);
  if (last >= chunkCount) throw new IntegrityError(`blob ${meta.blobId}: ${chunkCount} chunks cannot hold ${meta.size} bytes`);

  const fetch = (seq: number): Promise<Buffer> => {
    const p = fetchChunk(pool, key, copy, seq, seq === 0 ? chunk0 : undefined);
    p.catch(() => undefined); // a read-ahead the caller never reaches (it stopped early) must not go unhandled
    return p;
  };
  const whole = offset === 0 && length === meta.size ? createHash("sha256") : undefined;
  let next = fetch(first);
  for (let seq = first; seq <= last; seq++) {
    const current = next;
    if (seq < last) next = fetch(seq + 1);
    const raw = await current;
    const chunkStart = seq * chunkSize;
    const from = Math.max(0, offset - chunkStart);
    const to = Math.min(raw.length, offset + length - chunkStart);
    const piece = raw.subarray(from, to);
    whole?.update(piece);
    // A whole read hands its last piece out only once the sha256 matches: an old-form row's
    // checksum covers its own bytes only, so such a row duplicated or swapped in MariaDB passes
    // it, and a mismatch found after the last byte left would come too late for a relay that has
    // sent its Content-Length (a complete 200 of wrong bytes). Storage nodes hold back the same way.
    if (whole && seq === last && !whole.digest().equals(meta.sha256))
      throw new IntegrityError(`blob ${meta.blobId}: sha256 mismatch on read`);
    yield piece;
  }
}

async function fetchChunk(pool: Pool, key: CopyKey, copy: StoredCopy, seq: number, read?: StoredChunk): Promise<Buffer> {
  const where = `blob ${key.blobId} chunk ${seq}`;
  const row = read ?? (await selectChunk(pool, key, seq));
  if (!row) {
    // Gone because the blob was deleted or replaced meanwhile, or lost: tell the two apart.
    const now = await selectCompleteCopy(pool, key.nodeId, key.blobId);
    if (now?.writeId !== key.writeId) throw new NotFoundError(`blob ${key.blobId} was deleted or replaced while being read`);
    throw new IntegrityError(`${where} is missing`);
  }
  const expectedRaw = Math.min(copy.chunkSize, copy.meta.size - seq * copy.chunkSize);
  if (row.rawSize !== expectedRaw) throw new IntegrityError(`${where}: holds ${row.rawSize} bytes, expected ${expectedRaw}`);
  return decodeChunk(where, row, { blobId: key.blobId, writeId: key.writeId, seq });
}
