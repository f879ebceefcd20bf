import { InvalidArgumentError } from "../../common/errors";

export const DEFAULT_BUCKET = "default";
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** S3's bucket rules, simplified: 3-63 of lowercase letters, digits, '.', '-'. */
export function checkBucket(bucket: string | undefined): string {
  const b = bucket === undefined || bucket === "" ? DEFAULT_BUCKET : bucket;
  if (!BUCKET_RE.test(b)) throw new InvalidArgumentError(`invalid bucket "${b}": use 3-63 lowercase letters, digits, '.' or '-'`);
  return b;
}

/** S3's key rules: 1-1024 bytes of UTF-8; no control characters (they break listings and logs). */
export function checkKey(key: string | undefined): string {
  if (key === undefined || key === "") throw new InvalidArgumentError("missing key");
  // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, two units, 4): a short key needs no count.
  if (key.length > 341 && Buffer.byteLength(key, "utf8") > 1024) throw new InvalidArgumentError("key longer than 1024 bytes");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new InvalidArgumentError("key contains control characters");
  // Pairs taken out (a new string) only from keys that hold a surrogate at all: every key was copied.
  if (SURROGATE.test(key) && SURROGATE.test(key.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ""))) {
    throw new InvalidArgumentError("key is not valid UTF-8");
  }
  return key;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Longest content type: the catalogue's content_type is VARCHAR(255). */
export const MAX_CONTENT_TYPE = 255;
/** User metadata, names and values together, in UTF-8 bytes: S3's limit (well within metadata TEXT). */
export const MAX_METADATA_BYTES = 2048;

/**
 * Tab, printable ASCII and printable latin1: what Node sends in a header value, less the control
 * characters (C0, DEL, C1) that it would let through but no content type needs. CR/LF would split headers.
 */
const CONTENT_TYPE_RE = /^[\t\u0020-\u007e\u00a0-\u00ff]*$/;

/** True when an HTTP response can carry this content type as it is. */
export function isHeaderSafeContentType(contentType: string): boolean {
  return contentType.length <= MAX_CONTENT_TYPE && CONTENT_TYPE_RE.test(contentType);
}

/** A content type the catalogue can store and an HTTP GET can send back: at most 255 such characters. */
export function checkContentType(contentType: string): string {
  if (contentType.length > MAX_CONTENT_TYPE) throw new InvalidArgumentError(`content type longer than ${MAX_CONTENT_TYPE} characters`);
  if (!CONTENT_TYPE_RE.test(contentType)) {
    throw new InvalidArgumentError("content type may hold only tab, printable ASCII and printable latin1 characters");
  }
  return contentType;
}

/** User metadata within S3's 2 KiB (names and values, UTF-8): checked before any byte is stored. */
export function checkMetadata(metadata: Record<string, string>): Record<string, string> {
  let bytes = 0;
  for (const name in metadata) bytes += Buffer.byteLength(name, "utf8") + Buffer.byteLength(metadata[name], "utf8");
  if (bytes > MAX_METADATA_BYTES) throw new InvalidArgumentError(`metadata of ${bytes} bytes exceeds the limit of ${MAX_METADATA_BYTES}`);
  return metadata;
}
