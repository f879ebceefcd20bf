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
  if (Buffer.byteLength(key, "utf8") > 1024) throw new InvalidArgumentError("key longer than 1024 bytes");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new InvalidArgumentError("key contains control characters");
  if (/[\uD800-\uDFFF]/.test(key.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ""))) throw new InvalidArgumentError("key is not valid UTF-8");
  return key;
}
