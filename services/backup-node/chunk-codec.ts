import { promisify } from "node:util";
import { crc32, deflateRaw, inflateRaw, constants } from "node:zlib";
import { IntegrityError } from "../common/errors";

// How one chunk is stored: compressed with raw deflate at level 1 when that saves at least 10%,
// else as is. zlib's async API runs on libuv's thread pool, so the event loop stays free.

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

export async function encodeChunk(raw: Buffer): Promise<EncodedChunk> {
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

function stored(codec: ChunkCodec, rawSize: number, data: Buffer): EncodedChunk {
  return { codec, rawSize, data, checksum: crc32(data) };
}
