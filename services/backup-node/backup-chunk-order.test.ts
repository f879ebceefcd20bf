import { randomBytes } from "node:crypto";
import type { RowDataPacket } from "mysql2/promise";
import { IntegrityError } from "../common/errors";
import type { MysqlBackupBackend } from "./backup-backend";
import { readAll, sha256, useColdTier, writeBlob } from "./test-support";

// A chunk row's checksum binds its place (blob id, write id, seq: chunk-codec.ts, placedChecksum),
// so a row that changed as a whole in MariaDB (another chunk's bytes and checksum written over it:
// a chunk duplicated; two rows swapped: reordered; a row from another blob or copy) fails its check
// wherever it is read, a ranged read or a whole read resumed part way included. Before, the
// checksum covered the row's own bytes only and those reads served the wrong bytes as good ones.
//
// A whole read also checks the blob's sha256, and must before the last chunk is handed out: after
// it, the coordinator (api/body-relay.ts) has written every byte of the Content-Length to the
// client, a complete 200 of the wrong bytes. A storage node holds a whole read's last chunk back
// until the sha256 matched (blobstore/file-store.ts, review finding 3), and so does the cold tier;
// that check still matters for rows of the old form (check_form 0), whose checksum names no place.

const NODE = "backup-order";
const CHUNK = 64 * 1024;
const cold = useColdTier(NODE);

const KEY_COLUMNS = ["node_id", "blob_id", "write_id", "seq"];

/**
 * A chunk row's contents (every column but its primary key), as MariaDB holds them: what a row
 * misplaced there (duplicated, swapped, restored to the wrong key) carries to its new place.
 */
async function chunkContents(nodeId: string, blobId: string, seq: number): Promise<Record<string, unknown>> {
  const [rows] = await cold.db.pool.query<RowDataPacket[]>("SELECT * FROM backup_chunks WHERE node_id = ? AND blob_id = ? AND seq = ?", [
    nodeId,
    blobId,
    seq,
  ]);
  const contents: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(rows[0])) if (!KEY_COLUMNS.includes(column)) contents[column] = value;
  return contents;
}
async function putChunkContents(nodeId: string, blobId: string, seq: number, contents: Record<string, unknown>): Promise<void> {
  const columns = Object.keys(contents);
  await cold.db.pool.query(
    `UPDATE backup_chunks SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE node_id = ? AND blob_id = ? AND seq = ?`,
    [...columns.map((c) => contents[c]), nodeId, blobId, seq],
  );
}

/** What a read of [offset, offset + length) served: the blob's own bytes, other bytes, or the error it failed with. */
async function served(backend: MysqlBackupBackend, blobId: string, data: Buffer, offset: number, length?: number): Promise<string> {
  try {
    const got = await readAll((await backend.read(blobId, offset, length)).chunks);
    return got.equals(data.subarray(offset, length === undefined ? undefined : offset + length)) ? "its own bytes" : "wrong bytes";
  } catch (e) {
    return e instanceof IntegrityError ? "IntegrityError" : `${(e as Error).name}: ${(e as Error).message}`;
  }
}

/** Rewrites a copy's rows in the old form (check_form 0): each checksum the CRC-32 of its bytes alone. */
async function asOldFormRows(nodeId: string, blobId: string): Promise<void> {
  await cold.db.pool.query("UPDATE backup_chunks SET checksum = CRC32(data), check_form = 0 WHERE node_id = ? AND blob_id = ?", [
    nodeId,
    blobId,
  ]);
}

test("a whole read of old-form rows, one duplicated, never hands out its last chunk before the sha256 check fails", async () => {
  const data = randomBytes(4 * CHUNK); // 4 full chunks: any row fits any position
  const backend = await cold.db.backend(NODE, { chunkBytes: CHUNK });
  await writeBlob(backend, "dup-last", data);
  // Rows written before check_form: a misplaced one passes its own check, only the sha256 is left.
  await asOldFormRows(NODE, "dup-last");
  await putChunkContents(NODE, "dup-last", 2, await chunkContents(NODE, "dup-last", 1));

  let handedOut = 0;
  const reader = await backend.read("dup-last", 0, undefined);
  const drained = (async () => {
    for await (const c of reader.chunks) handedOut += c.length;
  })();
  await expect(drained).rejects.toBeInstanceOf(IntegrityError);
  // Everything but the last chunk: it failed at the sha256 (the client of a relayed read must not get a complete body).
  expect(handedOut).toBe(3 * CHUNK);
  await backend.close();
});

test("a ranged or resumed read of a copy whose chunk rows were swapped fails with IntegrityError, not the wrong bytes", async () => {
  const data = randomBytes(4 * CHUNK);
  const backend = await cold.db.backend(NODE, { chunkBytes: CHUNK });
  await writeBlob(backend, "swapped", data);
  const [one, two] = [await chunkContents(NODE, "swapped", 1), await chunkContents(NODE, "swapped", 2)];
  await putChunkContents(NODE, "swapped", 1, two);
  await putChunkContents(NODE, "swapped", 2, one);

  expect({
    inChunk1: await served(backend, "swapped", data, CHUNK + 100, 1000),
    chunk2: await served(backend, "swapped", data, 2 * CHUNK, CHUNK),
    resumedAtChunk1: await served(backend, "swapped", data, CHUNK), // a whole read resumed part way: no sha256
    // The rows left in place still serve their ranges.
    chunk0: await served(backend, "swapped", data, 0, CHUNK),
    inChunk3: await served(backend, "swapped", data, 3 * CHUNK + 7),
  }).toEqual({
    inChunk1: "IntegrityError",
    chunk2: "IntegrityError",
    resumedAtChunk1: "IntegrityError",
    chunk0: "its own bytes",
    inChunk3: "its own bytes",
  });
  await backend.close();
});

test("a chunk row taken from another blob, or from another copy of the same blob id, fails a ranged read", async () => {
  const backend = await cold.db.backend(NODE, { chunkBytes: CHUNK });
  const otherNode = await cold.db.backend(`${NODE}-2`, { chunkBytes: CHUNK });
  const data = randomBytes(3 * CHUNK);
  await writeBlob(backend, "victim", data);
  await writeBlob(backend, "donor", randomBytes(3 * CHUNK));
  await writeBlob(otherNode, "victim", randomBytes(3 * CHUNK)); // same blob id and positions, another copy
  await putChunkContents(NODE, "victim", 2, await chunkContents(NODE, "donor", 2));
  await putChunkContents(NODE, "victim", 1, await chunkContents(`${NODE}-2`, "victim", 1));
  // A small blob's only chunk comes with its copy's row (one query), and goes by another insert.
  const small = randomBytes(100);
  const other = randomBytes(100); // the same size: a row of another size is caught by its raw_size
  await backend.putSmall("small-victim", {}, small, sha256(small));
  await backend.putSmall("small-donor", {}, other, sha256(other));
  await putChunkContents(NODE, "small-victim", 0, await chunkContents(NODE, "small-donor", 0));

  expect({
    fromAnotherBlob: await served(backend, "victim", data, 2 * CHUNK + 5, 10),
    fromAnotherCopy: await served(backend, "victim", data, CHUNK, CHUNK),
    untouched: await served(backend, "victim", data, 0, CHUNK),
    smallFromAnotherBlob: await served(backend, "small-victim", small, 4, 50),
  }).toEqual({
    fromAnotherBlob: "IntegrityError",
    fromAnotherCopy: "IntegrityError",
    untouched: "its own bytes",
    smallFromAnotherBlob: "IntegrityError",
  });
  await Promise.all([backend.close(), otherNode.close()]);
});
