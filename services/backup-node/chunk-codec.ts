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
  /** CRC-32 of `data` (the stored bytes). */
  checksum: number;
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

/**
 * Checks the stored bytes against their checksum and expands them. Throws IntegrityError on any
 * mismatch: a wrong length, a wrong CRC, an undecodable stream or an unknown codec.
 */
export async function decodeChunk(
  where: string,
  codec: string,
  rawSize: number,
  storedSize: number,
  checksum: number,
  data: Buffer,
): Promise<Buffer> {
  if (data.length !== storedSize) {
    throw new IntegrityError(`${where}: stored ${data.length} bytes, expected ${storedSize}`);
  }
  if (crc32(data) !== checksum) throw new IntegrityError(`${where}: checksum mismatch`);
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
