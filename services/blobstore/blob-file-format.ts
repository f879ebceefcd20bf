import type { FileHandle } from "node:fs/promises";
import { crc32 } from "../common/crc32";
import { IntegrityError } from "../common/errors";
import { CHECK_BLOCK } from "../rpc/block-checksums";

/**
 * One large blob = one file: a header (meta), the bytes, then (version 2) a crc32 per block of
 * CHECK_BLOCK bytes. Meta lives in the same file as the data so that a single rename makes both
 * visible together.
 *
 *   0  magic "M3BLOB02" (8)       12 size (u64)       28 sha256 (32)
 *   8  header length (u32)        20 stored at ms (u64)  60 attributes length (u32)  64 attributes JSON
 *   header length: the data (size bytes); then ceil(size / CHECK_BLOCK) crc32s (u32 each)
 *
 * The block checksums let any range be checked before it is sent; the sha256 covers only a whole
 * read. Files of version 1 ("M3BLOB01", written before the checksums) have no table and still read:
 * whole reads check their sha256, ranges go unchecked until the blob is written again.
 */
const MAGIC = Buffer.from("M3BLOB02", "ascii");
const MAGIC_V1 = Buffer.from("M3BLOB01", "ascii");
export const FIXED_HEADER = 64;
export { CHECK_BLOCK };
const SIZE_AT = 12;
const STORED_AT = 20;
const SHA_AT = 28;
const MAX_ATTRIBUTES = 1024 * 1024;

export interface BlobFileHeader {
  headerLength: number;
  size: number;
  storedAtMs: number;
  sha256: Buffer;
  attributes: Record<string, string>;
  /** Version 2: a crc32 per CHECK_BLOCK bytes follows the data. */
  blockChecksums: boolean;
}

/** Bytes of the checksum table of a blob of `size` bytes. */
export function checksumTableLength(size: number): number {
  return Math.ceil(size / CHECK_BLOCK) * 4;
}

/** What the file holds after its header: the data, and the table if it has one. */
export function bodyLength(h: BlobFileHeader): number {
  return h.size + (h.blockChecksums ? checksumTableLength(h.size) : 0);
}

/**
 * Checks whole blocks read from a version 2 file: `data` starts at block `firstBlock`, `table`
 * holds the crc32s from block `tableFirst` on. IntegrityError names the first bad block.
 */
export function checkBlocks(name: string, data: Buffer, firstBlock: number, table: Buffer, tableFirst: number): void {
  for (let at = 0, block = firstBlock; at < data.length; at += CHECK_BLOCK, block++) {
    const expected = table.readUInt32BE((block - tableFirst) * 4);
    if (crc32(data.subarray(at, at + CHECK_BLOCK)) !== expected)
      throw new IntegrityError(`blob ${name}: block ${block} (bytes ${block * CHECK_BLOCK}..) failed its checksum`);
  }
}

/** The header of a blob still being written: size and sha256 are filled in at commit (sealHeader). */
export function encodeHeader(attributes: Record<string, string>): Buffer {
  const attrs = Buffer.from(JSON.stringify(attributes), "utf8");
  if (attrs.length > MAX_ATTRIBUTES) throw new IntegrityError("attributes too large");
  const buf = Buffer.alloc(FIXED_HEADER + attrs.length);
  MAGIC.copy(buf, 0);
  buf.writeUInt32BE(buf.length, 8);
  buf.writeUInt32BE(attrs.length, 60);
  attrs.copy(buf, FIXED_HEADER);
  return buf;
}

/** The fields written at commit: size, stored time and sha256 (offset SIZE_AT in the file). */
export function sealFields(size: number, storedAtMs: number, sha256: Buffer): { bytes: Buffer; position: number } {
  const buf = Buffer.alloc(SHA_AT + 32 - SIZE_AT);
  buf.writeBigUInt64BE(BigInt(size), 0);
  buf.writeBigUInt64BE(BigInt(storedAtMs), STORED_AT - SIZE_AT);
  sha256.copy(buf, SHA_AT - SIZE_AT);
  return { bytes: buf, position: SIZE_AT };
}

/** Reads and checks a blob file's header; IntegrityError if it is not one or is truncated. */
export async function readHeader(fd: FileHandle, name: string): Promise<BlobFileHeader> {
  const fixed = Buffer.alloc(FIXED_HEADER);
  const { bytesRead } = await fd.read(fixed, 0, FIXED_HEADER, 0);
  const magic = fixed.subarray(0, 8);
  const blockChecksums = magic.equals(MAGIC);
  if (bytesRead < FIXED_HEADER || !(blockChecksums || magic.equals(MAGIC_V1)))
    throw new IntegrityError(`blob file ${name} has a bad header`);
  const headerLength = fixed.readUInt32BE(8);
  const attrsLength = fixed.readUInt32BE(60);
  if (attrsLength > MAX_ATTRIBUTES || headerLength !== FIXED_HEADER + attrsLength)
    throw new IntegrityError(`blob file ${name} has a bad header`);
  const attrs = Buffer.alloc(attrsLength);
  if ((await fd.read(attrs, 0, attrsLength, FIXED_HEADER)).bytesRead < attrsLength)
    throw new IntegrityError(`blob file ${name} is truncated`);
  let attributes: Record<string, string>;
  try {
    attributes = JSON.parse(attrs.toString("utf8")) as Record<string, string>;
  } catch {
    throw new IntegrityError(`blob file ${name} has unreadable attributes`);
  }
  return {
    headerLength,
    size: Number(fixed.readBigUInt64BE(SIZE_AT)),
    storedAtMs: Number(fixed.readBigUInt64BE(STORED_AT)),
    sha256: Buffer.from(fixed.subarray(SHA_AT, SHA_AT + 32)),
    attributes,
    blockChecksums,
  };
}
