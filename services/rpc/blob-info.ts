import type { BlobInfo } from "./gen/minis3/v1/node";
import type { BlobMeta } from "./blob-backend";
import { AnswerBlobInfo } from "./wire/exchange-codec";

// BlobMeta (what backends speak) <-> BlobInfo (what travels on the wire): one place for both sides.

export function toBlobInfo(meta: BlobMeta): BlobInfo {
  return {
    blobId: meta.blobId,
    size: meta.size,
    sha256: meta.sha256,
    storedAtMs: meta.storedAtMs,
    attributes: meta.attributes,
  };
}

export function fromBlobInfo(info: BlobInfo): BlobMeta {
  // An Exchange answer's info is a BlobMeta already; copied, its attributes would be decoded.
  if (info instanceof AnswerBlobInfo) return info;
  return {
    blobId: info.blobId,
    size: info.size,
    sha256: info.sha256,
    storedAtMs: info.storedAtMs,
    attributes: info.attributes,
  };
}

/** Clamps a requested range to a blob of `size` bytes, as every backend and the client must agree. */
export function clampRange(size: number, offset: number, length: number | undefined): { offset: number; length: number } {
  const start = Math.min(Math.max(0, offset), size);
  const rest = size - start;
  return { offset: start, length: length === undefined ? rest : Math.min(Math.max(0, length), rest) };
}

const BLOB_ID_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** Blob ids name files on disk: refuse anything that could escape a directory. */
export function isValidBlobId(blobId: string): boolean {
  return BLOB_ID_RE.test(blobId);
}
