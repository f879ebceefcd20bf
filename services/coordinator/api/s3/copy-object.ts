// CopyObject (PUT with x-amz-copy-source): the source streamed through the engine into a new
// version of the target, its metadata copied (COPY, the default) or taken from the request (REPLACE).
import { checkBucketAccess } from "../../../auth/keys";
import { TooLargeError } from "../../../common/errors";
import { checkContentType, checkMetadata } from "../../objects/names";
import { bucketMissing } from "./bucket-ops";
import { checkConditions, conditionsOf, metadataOf } from "./object-headers";
import { checkStorageClass, objectOf } from "./object-request";
import type { S3Deps, S3Reply, S3Request } from "./router";
import { s3Errors } from "./s3-errors";
import { s3Document } from "./xml";

export interface CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

/** `x-amz-copy-source`: "bucket/key" or "/bucket/key", URL-encoded, optionally "?versionId=…". */
export function parseCopySource(header: string): CopySource {
  const q = header.indexOf("?");
  const pathPart = q < 0 ? header : header.slice(0, q);
  let path: string;
  try {
    path = decodeURIComponent(pathPart).replace(/^\//, "");
  } catch {
    throw s3Errors.invalidRequest("x-amz-copy-source is not valid percent-encoded UTF-8");
  }
  const slash = path.indexOf("/");
  if (slash <= 0 || slash === path.length - 1) throw s3Errors.invalidRequest("x-amz-copy-source must be bucket/key");
  const source: CopySource = { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
  if (q >= 0) {
    const params = new URLSearchParams(header.slice(q + 1));
    const versionId = params.get("versionId");
    if (versionId !== null && versionId !== "null") source.versionId = versionId;
  }
  return source;
}

/** PutObject's route calls this when the request names a copy source. */
export async function copyObject(req: S3Request, deps: S3Deps, sourceHeader: string): Promise<S3Reply> {
  const { bucket, key } = objectOf(req);
  checkStorageClass(req);
  const source = parseCopySource(sourceHeader);
  checkBucketAccess(req.identity, source.bucket);
  const directive = (req.header("x-amz-metadata-directive") ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE")
    throw s3Errors.invalidRequest(`x-amz-metadata-directive must be COPY or REPLACE, not ${directive}`);
  if (directive === "COPY" && source.bucket === bucket && source.key === key && source.versionId === undefined) {
    throw s3Errors.invalidRequest(
      "this copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes",
    );
  }
  await deps.buckets.headBucket(bucket);
  const got = await (
    source.versionId === undefined
      ? deps.engine.get(source.bucket, source.key, undefined, req.requestId)
      : deps.engine.getVersion(source.bucket, source.key, source.versionId, undefined, req.requestId)
  ).catch(async (e) => Promise.reject(await bucketMissing(deps, source.bucket, e)));
  const reading = got.body[Symbol.asyncIterator]();
  try {
    checkConditions(got.object, conditionsOf(req, "x-amz-copy-source-"), true);
    if (got.object.size > deps.maxObjectSize)
      throw new TooLargeError(`the source of ${got.object.size} bytes exceeds the maximum object size`);
    const replace = directive === "REPLACE";
    const view = await deps.engine.put({
      bucket,
      key,
      contentType: replace ? checkContentType(req.header("content-type") || "application/octet-stream") : got.object.contentType,
      metadata: replace ? checkMetadata(metadataOf(req)) : got.object.metadata,
      contentLength: got.length,
      body: { [Symbol.asyncIterator]: () => reading },
      signal: req.signal,
      requestId: req.requestId,
    });
    return {
      headers: { "x-amz-version-id": view.versionId, "x-amz-copy-source-version-id": got.object.versionId },
      body: s3Document("CopyObjectResult", { ETag: `"${view.etag}"`, LastModified: new Date(view.createdAtMs).toISOString() }),
    };
  } finally {
    await reading.return?.(); // a failed put (or check) must not leave the source's read open on a node
  }
}
