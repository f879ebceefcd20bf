// Reading an object request: its bucket and key, declared length, storage class, version id, and
// the checksums to echo. Shared by PutObject, CopyObject and the multipart handlers.
import { checkKey } from "../../objects/names";
import type { S3Request } from "./router";
import { S3Error } from "./s3-errors";

/** The object's length: x-amz-decoded-content-length for aws-chunked bodies, else Content-Length. */
export function objectLength(req: S3Request): number | undefined {
  const decoded = req.header("x-amz-decoded-content-length");
  const sha = req.header("x-amz-content-sha256") ?? "";
  const text = decoded ?? (sha.startsWith("STREAMING-") ? undefined : req.header("content-length"));
  if (text === undefined) return undefined;
  if (!/^\d{1,16}$/.test(text.trim())) throw new S3Error("InvalidArgument", 400, `the length "${text}" is not a number`);
  return Number(text.trim());
}

/** The bucket and key of an object request (the router only sends object requests here). */
export function objectOf(req: S3Request): { bucket: string; key: string } {
  return { bucket: req.bucket!, key: checkKey(req.key) };
}

/** STANDARD (or none) is what a PUT may ask for: bytes start hot, the lifecycle makes them GLACIER_IR. */
export function checkStorageClass(req: S3Request): void {
  const cls = req.header("x-amz-storage-class");
  if (cls !== undefined && cls !== "STANDARD") {
    throw new S3Error(
      "InvalidStorageClass",
      400,
      `the storage class ${cls} cannot be asked for: objects are stored STANDARD and become GLACIER_IR when cold`,
    );
  }
}

/**
 * The x-amz-checksum-* values the client sent (header or trailer), computed over what was stored,
 * added to `out` (the answer's other headers: no second object to spread them from, nor
 * Object.entries' pairs, per upload).
 */
export function checksumHeaders(
  body: { checksums: Readonly<Record<string, string | undefined>> },
  out: Record<string, string> = {},
): Record<string, string> {
  const checksums = body.checksums;
  for (const algorithm in checksums) {
    const value = checksums[algorithm];
    if (algorithm !== "md5" && value !== undefined) out[`x-amz-checksum-${algorithm}`] = value;
  }
  return out;
}

/** `versionId` of a GET, HEAD or DELETE; "null" (S3's id of an unversioned object) means the current one. */
export function versionIdOf(req: S3Request): string | undefined {
  const v = req.query.get("versionId");
  return v === undefined || v === "null" ? undefined : v;
}
