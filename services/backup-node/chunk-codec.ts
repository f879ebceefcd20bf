import { promisify } from "node:util";
import { deflateRaw, deflateRawSync, inflateRaw, constants } from "node:zlib";
import { crc32 } from "../common/crc32";
import { IntegrityError } from "../common/errors";

// How one chunk is stored: compressed with raw deflate at level 1 when that saves at least 10%,
// else as is. zlib's async API runs on libuv's thread pool, so the event loop stays free; small
// chunks are judged and deflated on the event loop (see SMALL_BYTES).

export type ChunkCodec = "raw" | "deflate";

export interface EncodedChunk {
  codec: ChunkCodec;
  rawSize: number;
  data: Buffer;
  /** CRC-32 of `data` (the stored bytes) alone; a row stores placedChecksum() of it. */
  checksum: number;
}

/** A chunk row as stored (backup_chunks). */
export interface StoredChunk {
  codec: string;
  rawSize: number;
  storedSize: number;
  checksum: number;
  /** What `checksum` covers: one of the CHECKS_* values (backup_chunks.check_form). */
  checkForm: number;
  data: Buffer;
}

/** Where a chunk belongs: its blob, the copy (write) it is part of, its number in the copy. */
export interface ChunkPlace {
  blobId: string;
  writeId: string;
  seq: number;
}

/**
 * checksum = CRC-32 of the stored bytes only: rows written before check_form (2026-12-07), or by
 * an older node since. Still read, with the old weakness: a row duplicated, swapped or taken from
 * another blob or copy passes its check (a whole read's sha256 catches it, a ranged read nothing).
 */
export const CHECKS_BYTES = 0;
/** checksum = CRC-32 of the stored bytes followed by the chunk's place (placedChecksum). */
export const CHECKS_BYTES_AND_PLACE = 1;

/**
 * The stored bytes' CRC-32 (`bytesCrc`) continued over the chunk's place, so a row read at any
 * other place fails its check. The place is the blob id, the write id and the chunk's number,
 * each length-prefixed or fixed-size so no two places give the same bytes. The write id names the
 * copy: random per write attempt, never reused (a retry, a rewrite or a copy kept as identical
 * keeps each copy's chunks under the write id they were written with). The node id is left out:
 * the write id already tells nodes sharing a database apart, and a node's rows stay readable if
 * an operator renames it. Costs a CRC of ~150 bytes per chunk (up to 1 MiB).
 */
export function placedChecksum(bytesCrc: number, place: ChunkPlace): number {
  const blobId = Buffer.from(place.blobId, "ascii");
  const writeId = Buffer.from(place.writeId, "ascii");
  const suffix = Buffer.allocUnsafe(blobId.length + writeId.length + 6);
  let at = suffix.writeUInt8(blobId.length, 0);
  at += blobId.copy(suffix, at);
  at = suffix.writeUInt8(writeId.length, at);
  at += writeId.copy(suffix, at);
  suffix.writeUInt32BE(place.seq, at);
  return crc32(suffix, bytesCrc);
}

const deflateAsync = promisify(deflateRaw);
const inflateAsync = promisify(inflateRaw);

const LEVEL = constants.Z_BEST_SPEED;
/** Keep the compressed form only if it is at most this fraction of the raw size. */
const KEEP_RATIO = 0.9;
/** Chunks above this size are probed on a sample first, so incompressible data costs little CPU. */
const PROBE_BYTES = 32 * 1024;
/**
 * Chunks up to this size (every small blob the lifecycle moves) are first judged by the entropy of
 * their bytes, then deflated synchronously. Each zlib call sets up a fresh stream (~70 µs of CPU
 * here even for 1 KiB, its window and hash tables) and the async one adds a thread-pool trip: a
 * 4 KiB incompressible chunk cost ~100 µs synchronously and ~200-300 µs async, a quarter of the
 * backup node's CPU while it took demotions (2026-12-01 profile). A histogram costs ~5 µs.
 */
const SMALL_BYTES = 16 * 1024;
/** Bytes of a small chunk the entropy is measured on (its middle). */
const ENTROPY_SAMPLE = 4096;
/**
 * Order-0 entropy, in bits per byte, at or above which a chunk is taken as incompressible (random,
 * already compressed or encrypted data: 4 KiB of random bytes measure ~7.95, text ~4-5). Deflate
 * saving 10% needs far less, unless the chunk repeats itself, which a small chunk rarely does.
 */
const INCOMPRESSIBLE_BITS = 7.5;

export async function encodeChunk(raw: Buffer): Promise<EncodedChunk> {
  if (raw.length <= SMALL_BYTES) {
    if (raw.length === 0 || bitsPerByte(raw) >= INCOMPRESSIBLE_BITS) return stored("raw", raw.length, raw);
    const packed = deflateRawSync(raw, { level: LEVEL });
    return packed.length <= raw.length * KEEP_RATIO ? stored("deflate", raw.length, packed) : stored("raw", raw.length, raw);
  }
  if (raw.length > PROBE_BYTES * 2) {
    // Sample the middle (headers at the start of a file often compress when the rest does not).
    const start = Math.floor((raw.length - PROBE_BYTES) / 2);
    const probe = await deflateAsync(raw.subarray(start, start + PROBE_BYTES), { level: LEVEL });
    if (probe.length > PROBE_BYTES * KEEP_RATIO) return stored("raw", raw.length, raw);
  }
  if (raw.length > 0) {
    const packed = await deflateAsync(raw, { level: LEVEL });
    if (packed.length <= raw.length * KEEP_RATIO) return stored("deflate", raw.length, packed);
  }
  return stored("raw", raw.length, raw);
}

/** The row an encoded chunk is stored as at `place` (every new row: its checksum binds the place). */
export function storedAt(c: EncodedChunk, place: ChunkPlace): StoredChunk {
  return {
    codec: c.codec,
    rawSize: c.rawSize,
    storedSize: c.data.length,
    checksum: placedChecksum(c.checksum, place),
    checkForm: CHECKS_BYTES_AND_PLACE,
    data: c.data,
  };
}

/**
 * Checks a stored chunk against its checksum (and, unless an old row's, its place) and expands it.
 * Throws IntegrityError on any mismatch: a wrong length, a wrong CRC (bytes or place), an
 * undecodable stream, an unknown codec or checksum form.
 */
export async function decodeChunk(where: string, chunk: StoredChunk, place: ChunkPlace): Promise<Buffer> {
  const { codec, rawSize, storedSize, data } = chunk;
  if (data.length !== storedSize) {
    throw new IntegrityError(`${where}: stored ${data.length} bytes, expected ${storedSize}`);
  }
  if (chunk.checkForm === CHECKS_BYTES_AND_PLACE) {
    if (placedChecksum(crc32(data), place) !== chunk.checksum) {
      throw new IntegrityError(`${where}: checksum mismatch (bytes damaged, or a chunk of another place)`);
    }
  } else if (chunk.checkForm === CHECKS_BYTES) {
    if (crc32(data) !== chunk.checksum) throw new IntegrityError(`${where}: checksum mismatch`);
  } else throw new IntegrityError(`${where}: unknown checksum form ${chunk.checkForm}`);
  let raw: Buffer;
  if (codec === "raw") raw = data;
  else if (codec === "deflate") {
    try {
      raw = await inflateAsync(data, { maxOutputLength: rawSize + 1 });
    } catch (e) {
      throw new IntegrityError(`${where}: cannot inflate (${(e as Error).message})`);
    }
  } else throw new IntegrityError(`${where}: unknown codec "${codec}"`);
  if (raw.length !== rawSize) throw new IntegrityError(`${where}: ${raw.length} bytes decoded, expected ${rawSize}`);
  return raw;
}

/** Order-0 entropy of (the middle of) a chunk, bits per byte. */
function bitsPerByte(raw: Buffer): number {
  const start = Math.max(0, (raw.length - ENTROPY_SAMPLE) >> 1);
  const end = Math.min(raw.length, start + ENTROPY_SAMPLE);
  const counts = new Uint32Array(256);
  for (let i = start; i < end; i++) counts[raw[i]]++;
  const n = end - start;
  let bits = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b];
    if (c) bits -= c * Math.log2(c / n);
  }
  return bits / n;
}

function stored(codec: ChunkCodec, rawSize: number, data: Buffer): EncodedChunk {
  return { codec, rawSize, data, checksum: crc32(data) };
}
