import { randomBytes } from "node:crypto";
import { IntegrityError } from "../common/errors";
import { useColdTier, writeBlob } from "./test-support";

// A chunk row's checksum is the CRC-32 of its own stored bytes, in the same row: it does not name
// the copy or the position the bytes belong to. A row that changed as a whole in MariaDB (chunk 1's
// bytes and checksum written over chunk 2's: a chunk duplicated; two rows swapped: reordered)
// passes every chunk check. Only a whole read's sha256 can catch it, and it must before the last
// chunk is handed out: after it, the coordinator (api/body-relay.ts) has written every byte of the
// Content-Length to the client, a complete 200 of the wrong bytes. A storage node holds a whole
// read's last chunk back until the sha256 matched (blobstore/file-store.ts, review finding 3), and
// so does the cold tier. (A ranged read has no sha256 to check: ARCHITECTURE.md "Known gaps".)

const NODE = "backup-order";
const CHUNK = 64 * 1024;
const cold = useColdTier(NODE);

/** Chunk `from`'s row contents (bytes, codec, checksum) written over chunk `to`'s: a duplicated chunk. */
async function duplicateChunk(blobId: string, from: number, to: number): Promise<void> {
  await cold.db.pool.query(
    `UPDATE backup_chunks d JOIN backup_chunks s ON s.node_id = d.node_id AND s.blob_id = d.blob_id AND s.write_id = d.write_id
        SET d.codec = s.codec, d.raw_size = s.raw_size, d.stored_size = s.stored_size, d.checksum = s.checksum, d.data = s.data
      WHERE d.node_id = ? AND d.blob_id = ? AND d.seq = ? AND s.seq = ?`,
    [NODE, blobId, to, from],
  );
}

test("a whole read of a copy whose chunk rows were duplicated never hands out its last chunk before the sha256 check fails", async () => {
  const data = randomBytes(4 * CHUNK); // 4 full chunks: any row fits any position
  const backend = await cold.db.backend(NODE, { chunkBytes: CHUNK });
  await writeBlob(backend, "dup-last", data);
  await duplicateChunk("dup-last", 1, 2);

  let handedOut = 0;
  const reader = await backend.read("dup-last", 0, undefined);
  const drained = (async () => {
    for await (const c of reader.chunks) handedOut += c.length;
  })();
  await expect(drained).rejects.toBeInstanceOf(IntegrityError);
  // Everything but the last chunk at most: the client of a relayed read must not get a complete body.
  expect(handedOut).toBeLessThan(data.length);
  await backend.close();
});
