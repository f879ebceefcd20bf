// S3's object operations on the engine: PutObject, GetObject, HeadObject, DeleteObject.
import { ErrorCode, hasCode, RangeNotSatisfiableError, TooLargeError } from "../../../common/errors";
import { checkContentType, checkKey, checkMetadata } from "../../objects/names";
import { contentRange, parseRange } from "../http-range";
import { applyOverrides, checkConditions, conditionsOf, metadataOf, objectHeaders, quotedEtag } from "./object-headers";
import type { S3Deps, S3Reply, S3Request, S3Router } from "./router";
import { S3Error } from "./s3-errors";

const OCTET_STREAM = "application/octet-stream";

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

/** The x-amz-checksum-* values the client sent (header or trailer), computed over what was stored. */
export function checksumHeaders(body: { checksums: Readonly<Record<string, string | undefined>> }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [algorithm, value] of Object.entries(body.checksums)) {
    if (algorithm !== "md5" && value !== undefined) out[`x-amz-checksum-${algorithm}`] = value;
  }
  return out;
}

export function registerObjectOps(router: S3Router, deps: S3Deps): void {
  const { engine } = deps;

  router.register({ name: "PutObject", method: "PUT", target: "object" }, async (req) => {
    const { bucket, key } = objectOf(req);
    checkStorageClass(req);
    const contentLength = objectLength(req);
    if (contentLength !== undefined && contentLength > deps.maxObjectSize) {
      throw new TooLargeError(
        `your proposed upload of ${contentLength} bytes exceeds the maximum allowed object size of ${deps.maxObjectSize}`,
      );
    }
    const contentType = checkContentType(req.header("content-type") || OCTET_STREAM);
    const metadata = checkMetadata(metadataOf(req));
    const body = req.body();
    const view = await engine.put({ bucket, key, contentType, contentLength, metadata, body, signal: req.signal });
    return { headers: { etag: quotedEtag(view), "x-amz-version-id": view.versionId, ...checksumHeaders(body) } };
  });

  router.register({ name: "GetObject", method: "GET", target: "object" }, async (req) => {
    const { bucket, key } = objectOf(req);
    const range = parseRange(req.header("range"));
    const got = await engine.get(bucket, key, range);
    try {
      checkConditions(got.object, conditionsOf(req));
      if (range && got.length === 0) throw new RangeNotSatisfiableError("an empty object has no byte range", 0);
    } catch (e) {
      await got.body[Symbol.asyncIterator]().return?.();
      throw e;
    }
    const headers = objectHeaders(got.object);
    applyOverrides(req, headers);
    headers["content-length"] = String(got.length);
    const reply: S3Reply = { headers, body: got.body };
    if (range) {
      reply.status = 206;
      headers["content-range"] = contentRange(got.offset, got.length, got.object.size);
    }
    return reply;
  });

  router.register({ name: "HeadObject", method: "HEAD", target: "object" }, async (req) => {
    const { bucket, key } = objectOf(req);
    const view = await engine.head(bucket, key);
    checkConditions(view, conditionsOf(req));
    const headers = objectHeaders(view);
    headers["content-length"] = String(view.size);
    return { headers };
  });

  router.register({ name: "DeleteObject", method: "DELETE", target: "object" }, async (req) => {
    const { bucket, key } = objectOf(req);
    try {
      await engine.delete(bucket, key);
      return { status: 204 };
    } catch (e) {
      if (hasCode(e, ErrorCode.NoSuchKey)) return { status: 204 }; // S3: deleting what is not there succeeds
      throw e;
    }
  });
}
