// CRC-32 (zlib's, IEEE) and CRC-32C (Castagnoli) of bytes: @node-rs/crc32's SIMD code (PCLMULQDQ
// for CRC-32, the SSE 4.2 instruction for CRC-32C) when its prebuilt binary loads on this platform,
// else node:zlib's crc32 and our own table-driven crc32c (crc32c-tables.ts).
//
// Why a native package: every byte a blob holds is crc32'd where it is written (the block table of a
// blob file, a segment record) and again where it is read, and the coordinator's digest thread takes
// the block crc32s of every large upload. perf of the storage nodes during 64 MiB uploads (2026-12-05,
// npm start's cluster) put 17.6 % of their samples in zlib's crc32_z. Measured here (Node 20.20, one
// process): 64 MiB in 1 MiB slices 5.0-6.2 ms against zlib's 11.5-11.8, a 4 KiB body 0.39 µs against
// 0.82; CRC-32C of 16 MiB in 64 KiB updates 3.1 ms against the tables' 10.
//
// The values are the same functions' (the tests compare both ways on random data): blob files and
// segments written by either implementation read back under the other.
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32c as tablesCrc32c } from "./crc32c-tables";

/** A CRC of `data` continued from `value` (0 to start), as an unsigned 32-bit number. */
export type CrcFunction = (data: Uint8Array, value?: number) => number;

interface Simd {
  crc32: CrcFunction;
  crc32c: CrcFunction;
  /** Where it was loaded from: the coordinator's digest thread requires the same file. */
  path: string;
}

/** The check values of "123456789", which any CRC-32 and CRC-32C must give. */
const CHECK_INPUT = Buffer.from("123456789");
const CRC32_CHECK = 0xcbf43926;
const CRC32C_CHECK = 0xe3069283;

function loadSimd(): Simd | undefined {
  try {
    const path = require.resolve("@node-rs/crc32");
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional: an import would throw where it has no binary
    const m = require(path) as { crc32: CrcFunction; crc32c: CrcFunction };
    // A binding that loads but computes something else must never write a checksum to disk.
    if (m.crc32(CHECK_INPUT) !== CRC32_CHECK || m.crc32c(CHECK_INPUT) !== CRC32C_CHECK) return undefined;
    return { crc32: m.crc32, crc32c: m.crc32c, path };
  } catch {
    return undefined; // no binary for this platform (or optional packages left out): the fallbacks
  }
}

const simd = loadSimd();

export const crc32: CrcFunction = simd?.crc32 ?? zlibCrc32;
export const crc32c: CrcFunction = simd?.crc32c ?? tablesCrc32c;

/** Which code computes them here: "simd" (@node-rs/crc32) or "fallback" (node:zlib and crc32c-tables.ts). */
export const CRC_IMPLEMENTATION: "simd" | "fallback" = simd ? "simd" : "fallback";

/**
 * A CommonJS expression for `crc32`, for code that runs from source text in a worker thread
 * (coordinator/objects/upload-digest.ts): the same binary by its resolved path, or node:zlib's.
 */
export const CRC32_REQUIRE_EXPRESSION = simd ? `require(${JSON.stringify(simd.path)}).crc32` : `require("node:zlib").crc32`;
