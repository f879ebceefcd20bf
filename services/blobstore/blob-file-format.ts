import type { FileHandle } from "node:fs/promises";
import { IntegrityError } from "../common/errors";

/**
 * One large blob = one file: a header (meta) then the bytes. Meta lives in the same file as the
 * data so that a single rename makes both visible together.
 *
 *   0  magic "M3BLOB01" (8)       12 size (u64)       28 sha256 (32)
 *   8  header length (u32)        20 stored at ms (u64)  60 attributes length (u32)  64 attributes JSON
 */
const MAGIC = Buffer.from("M3BLOB01", "ascii");
export const FIXED_HEADER = 64;
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
  if (bytesRead < FIXED_HEADER || !fixed.subarray(0, 8).equals(MAGIC)) throw new IntegrityError(`blob file ${name} has a bad header`);
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
  };
}
