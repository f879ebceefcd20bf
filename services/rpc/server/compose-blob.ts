import { createHash } from "node:crypto";
import { crc32 } from "../../common/crc32";
import { AbortedError, IntegrityError, InvalidArgumentError } from "../../common/errors";
import type { BlobBackend, BlobMeta, BlobWriter } from "../blob-backend";
import { isValidBlobId } from "../blob-info";
import { BlockChecksums, CHECK_BLOCK } from "../block-checksums";

/** One blob a composed blob is made of, as the caller knows it (a multipart part's row). */
export interface ComposePart {
  blobId: string;
  size: number;
  sha256: Buffer;
}

/**
 * The file reads of a compose: 1 MiB, as a blob-plane GET's (server/blob-http-server.ts
 * PLANE_READ_BYTES), so a part is a quarter of the thread-pool trips a 256 KiB chunk would take.
 */
const COMPOSE_READ_BYTES = 1024 * 1024;

/**
 * Writes blob `blobId` on this node as its `parts` one after the other: the bytes of a multipart
 * upload's object made where its parts' copies already are, instead of streamed through the
 * coordinator (read from one node, hashed, written to two). Each part is read as any read is
 * (every block checked before its bytes are used; a missing part is NotFoundError, a damaged one
 * IntegrityError), and must have the size and sha256 the caller names. The result is written as a
 * large upload is: the node computes its sha256, and the writer checks the bytes it wrote by the
 * fold of their block crc32s at commit. Nothing is left on a failure (the writer aborted); the new
 * blob is visible only once committed, named by no row until the caller's commit (the orphan sweep
 * takes it if that never comes).
 *
 * When every part but the last is a whole number of check blocks (aws cli's 8 MiB parts, any part
 * size in MiB), the new blob's blocks are its parts' blocks: the fold comes from the tables the
 * parts' files keep (each block checked against its table as it is read), and the writer's own
 * crc32s of the bytes it was given are checked against it: one crc32 pass over the bytes where the
 * fold taken here was a second (a node's CPU per 64 MiB compose 92.0-99.0 -> 84.6-92.4 ms, means of
 * three alternated runs of five, 2026-12-06, bench/README.md "A multipart Complete's fold from its
 * parts' tables"). A part without a table (a segment record, an old file) has its crc32s taken as
 * it is copied.
 */
export async function composeBlob(
  backend: BlobBackend,
  blobId: string,
  attributes: Record<string, string>,
  parts: readonly ComposePart[],
  signal?: AbortSignal,
): Promise<BlobMeta> {
  if (!isValidBlobId(blobId)) throw new InvalidArgumentError(`bad blob id "${blobId}"`);
  if (parts.length === 0) throw new InvalidArgumentError("a composed blob needs at least one part");
  for (const p of parts) {
    if (!isValidBlobId(p.blobId)) throw new InvalidArgumentError(`bad part blob id "${p.blobId}"`);
    if (p.sha256.length !== 32) throw new InvalidArgumentError(`part ${p.blobId} names no sha256`);
  }
  const writer = await backend.beginWrite(blobId, attributes, "blockCrc");
  try {
    const sha = createHash("sha256");
    // Parts cut off mid-block: the whole's blocks straddle them, so its crc32s are taken here.
    const aligned = parts.every((p, i) => i === parts.length - 1 || p.size % CHECK_BLOCK === 0);
    const whole = aligned ? undefined : new BlockChecksums(crc32, CHECK_BLOCK);
    let fold = 0; // the crc32 of the parts' tables, one after the other: the whole's table
    let size = 0;
    for (const p of parts) {
      const copied = await copyPart(backend, p, writer, aligned, (chunk) => (sha.update(chunk), whole?.update(chunk)), signal);
      size += copied.size;
      if (copied.table) fold = crc32(copied.table, fold);
    }
    return await writer.commit(size, sha.digest(), whole ? whole.fold() : fold);
  } catch (e) {
    await writer.abort().catch(() => undefined);
    throw e;
  }
}

/**
 * One part's bytes into the writer, each chunk seen by `digest` first; its size, and with `wantTable`
 * its block crc32 table (the one its file keeps, or taken from its bytes here).
 */
async function copyPart(
  backend: BlobBackend,
  part: ComposePart,
  writer: BlobWriter,
  wantTable: boolean,
  digest: (chunk: Buffer) => void,
  signal: AbortSignal | undefined,
): Promise<{ size: number; table?: Buffer }> {
  const reader = await backend.read(part.blobId, 0, undefined, COMPOSE_READ_BYTES);
  const it = reader.chunks[Symbol.asyncIterator]();
  try {
    if (reader.meta.size !== part.size || !reader.meta.sha256.equals(part.sha256))
      throw new IntegrityError(`part ${part.blobId} on this node is not the part named (its size or sha256 differs)`);
    const own = wantTable && !reader.blockTable ? new BlockChecksums(crc32, CHECK_BLOCK) : undefined;
    let copied = 0;
    for (;;) {
      if (signal?.aborted) throw new AbortedError(`the compose reading ${part.blobId} was cancelled`);
      const r = await it.next();
      if (r.done) break;
      digest(r.value);
      own?.update(r.value);
      await writer.write(r.value);
      copied += r.value.length;
      // Written (a BlobWriter keeps no reference once its write resolved): the reader may refill it.
      reader.recycle?.(r.value);
    }
    if (copied !== part.size) throw new IntegrityError(`part ${part.blobId} read ${copied} bytes of ${part.size}`);
    return { size: copied, ...(wantTable ? { table: reader.blockTable ?? own!.table() } : {}) };
  } finally {
    await it.return?.();
  }
}
