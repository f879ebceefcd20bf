// The checksums S3 clients send as x-amz-checksum-* (base64 of the big-endian value or digest).
// CRC32 and CRC32C are common/crc32.ts's (SIMD where the platform has the binary).
import { createHash, type Hash } from "node:crypto";
import { crc32, crc32c, type CrcFunction } from "../common/crc32";
import { ErrorCode, MiniS3Error } from "../common/errors";

export type ChecksumAlgorithm = "crc32" | "crc32c" | "sha1" | "sha256";
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ["crc32", "crc32c", "sha1", "sha256"];

export interface Checksum {
  update(data: Uint8Array): void;
  /** base64, as in the x-amz-checksum-* header */
  digest(): string;
}

function crcBase64(value: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b.toString("base64");
}

/** A running CRC (common/crc32.ts's CRC32 or CRC32C). */
class Crc implements Checksum {
  private value = 0;
  constructor(private readonly crc: CrcFunction) {}
  update(data: Uint8Array): void {
    this.value = this.crc(data, this.value);
  }
  digest(): string {
    return crcBase64(this.value);
  }
}

class Digest implements Checksum {
  private readonly hash: Hash;
  constructor(algorithm: "sha1" | "sha256" | "md5") {
    this.hash = createHash(algorithm);
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): string {
    return this.hash.digest("base64");
  }
}

export function newChecksum(algorithm: ChecksumAlgorithm | "md5"): Checksum {
  switch (algorithm) {
    case "crc32":
      return new Crc(crc32);
    case "crc32c":
      return new Crc(crc32c);
    default:
      return new Digest(algorithm);
  }
}

/** The algorithm of an `x-amz-checksum-<algorithm>` header name; undefined for other names. */
export function checksumAlgorithmOf(headerName: string): ChecksumAlgorithm | undefined {
  const m = /^x-amz-checksum-([a-z0-9]+)$/.exec(headerName.toLowerCase());
  if (!m) return undefined;
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(m[1]) ? (m[1] as ChecksumAlgorithm) : undefined;
}

export function checksumOf(algorithm: ChecksumAlgorithm | "md5", data: Uint8Array): string {
  const c = newChecksum(algorithm);
  c.update(data);
  return c.digest();
}

/**
 * A Content-MD5 header (RFC 1864: the base64 of the body's 16-byte md5) as hex, the form the engine
 * compares with its own md5 of the body (PutInput.contentMd5); undefined when the request has none.
 * Every door that takes a body reads the header through this. A value that is not the canonical
 * base64 of 16 bytes is InvalidDigest (S3's answer), thrown before any byte of the body is read.
 */
export function contentMd5Of(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const text = (Array.isArray(header) ? header.join(",") : header).trim();
  const md5 = Buffer.from(text, "base64");
  if (md5.length !== 16 || md5.toString("base64") !== text) {
    throw new MiniS3Error(ErrorCode.InvalidDigest, `Content-MD5 '${text.slice(0, 64)}' is not the base64 of a 16-byte md5`);
  }
  return md5.toString("hex");
}
