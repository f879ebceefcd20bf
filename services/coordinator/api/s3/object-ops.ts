// S3's object operations on the engine: PutObject, GetObject, HeadObject, DeleteObject.
import { ErrorCode, hasCode, RangeNotSatisfiableError, TooLargeError } from "../../../common/errors";
import { checkContentType, checkMetadata } from "../../objects/names";
import { contentRange, parseRange } from "../http-range";
import { gather, SMALL_BODY } from "../small-body";
import { nextTransitionHeaders } from "../http-views";
import { bucketMissing } from "./bucket-ops";
import { applyOverrides, checkConditions, conditionsOf, metadataOf, objectHeaders, quotedEtag } from "./object-headers";
import type { S3Deps, S3Reply, S3Router } from "./router";
import { s3Errors } from "./s3-errors";
import { checkStorageClass, checksumHeaders, objectLength, objectOf, versionIdOf } from "./object-request";
import { copyObject } from "./copy-object";
import { DELETE_MARKER_SUFFIX } from "./listing";

const OCTET_STREAM = "application/octet-stream";

/** DeleteObject's headers for the delete marker of `deleted` (made by a delete, or removed). */
const markerHeaders = (deleted: string): Record<string, string> => ({
  "x-amz-delete-marker": "true",
  "x-amz-version-id": deleted + DELETE_MARKER_SUFFIX,
});

/**
 * DeleteObject (and each key of DeleteObjects): the current version goes to the trash. A delete
 * marker named by id is removed as S3 removes one, bringing its version back (removeDeleteMarker).
 * A version named by id must be the current one, or one already deleted (a retry: nothing more to
 * do); a replaced one answers 501: the trash is emptied by the lifecycle after MINIS3_TRASH_TTL,
 * never on request. Whether it is current is checked by the delete's own commit (engine.delete's
 * onlyVersion), not by a lookup before it: a PUT committing in between had its new version trashed
 * in place of the one named. Answers S3's x-amz-version-id (and x-amz-delete-marker) headers.
 */
export async function deleteObject(
  deps: S3Deps,
  bucket: string,
  key: string,
  requestId: string,
  versionId?: string,
): Promise<Record<string, string>> {
  if (versionId === undefined) {
    return markerHeaders((await deps.engine.delete(bucket, key, requestId)).versionId);
  }
  if (versionId.endsWith(DELETE_MARKER_SUFFIX)) {
    return removeDeleteMarker(deps, bucket, key, requestId, versionId.slice(0, -DELETE_MARKER_SUFFIX.length));
  }
  try {
    await deps.engine.delete(bucket, key, requestId, versionId);
    return { "x-amz-version-id": versionId };
  } catch (e) {
    if (!hasCode(e, ErrorCode.NoSuchKey)) throw e;
    // Not current (or replaced since the client saw it: the trash holds it now).
    const view = await deps.engine.headVersion(bucket, key, versionId); // NoSuchKey when it is not there at all
    // Deleted already (a retry whose first answer was lost, or another client's delete): the key is
    // as the client asked, so 204 as AWS answers a retry. A replaced version would need a purge.
    if (view.trashed === "deleted") return { "x-amz-version-id": versionId };
    throw s3Errors.notImplemented("deleting a version in the trash (it is purged after MINIS3_TRASH_TTL; undelete brings it back)");
  }
}

/**
 * The delete marker of `deleted`, removed: S3's way to undelete, so the version it hides becomes
 * current again. Only the key's latest entry can go (its most recent deletion, with no visible
 * version), checked under the key's lock by the engine's undelete; an older marker is a view of the
 * trash that cannot be removed alone (501). A marker gone already (its version visible again: a
 * retry) or never there answers 204, as S3 answers a version that is not there.
 */
async function removeDeleteMarker(
  deps: S3Deps,
  bucket: string,
  key: string,
  requestId: string,
  deleted: string,
): Promise<Record<string, string>> {
  const headers = markerHeaders(deleted);
  try {
    await deps.engine.undelete(bucket, key, requestId, deleted);
    return headers;
  } catch (e) {
    if (!hasCode(e, ErrorCode.NoSuchKey)) throw e;
    const view = await deps.engine.headVersion(bucket, key, deleted); // NoSuchKey: no such version, so no marker
    if (view.trashed !== "deleted") return headers;
    throw s3Errors.notImplemented(
      "removing a delete marker that is not the key's latest entry (undelete brings back the most recent deletion)",
    );
  }
}

export function registerObjectOps(router: S3Router, deps: S3Deps): void {
  const { engine } = deps;

  router.register({ name: "PutObject", method: "PUT", target: "object" }, async (req) => {
    const copySource = req.header("x-amz-copy-source");
    if (copySource !== undefined) return copyObject(req, deps, copySource);
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
    await deps.buckets.requireBucket(bucket); // NoSuchBucket before a byte is read
    const body = req.body({ digestsByStore: true });
    // The digests named, not spread in: a spread that adds properties to a literal builds it by
    // copying (bench/README.md, `{ ...v, … }`); the engine reads only these two, by `!== undefined`.
    const left = body.leftToStore;
    const view = await engine.put({
      bucket,
      key,
      contentType,
      contentLength,
      metadata,
      body,
      payloadSha256: left.payloadSha256,
      contentMd5: left.contentMd5,
      signal: req.signal,
      requestId: req.requestId,
    });
    return { headers: checksumHeaders(body, { etag: quotedEtag(view), "x-amz-version-id": view.versionId }) };
  });

  router.register({ name: "GetObject", method: "GET", target: "object" }, async (req) => {
    const { bucket, key } = objectOf(req);
    const range = parseRange(req.header("range"));
    const versionId = versionIdOf(req);
    // A try, not `.catch(async (e) => …)`: no closure and derived promises per GET.
    let got: Awaited<ReturnType<typeof engine.get>>;
    try {
      got = await (versionId === undefined
        ? engine.get(bucket, key, range, req.requestId)
        : engine.getVersion(bucket, key, versionId, range, req.requestId));
    } catch (e) {
      throw await bucketMissing(deps, bucket, e);
    }
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
    const reply: S3Reply = { headers, body: got.length <= SMALL_BODY ? await gather(got.body) : got.body };
    if (range) {
      reply.status = 206;
      headers["content-range"] = contentRange(got.offset, got.length, got.object.size);
    }
    return reply;
  });

  router.register({ name: "HeadObject", method: "HEAD", target: "object" }, async (req) => {
    const { bucket, key } = objectOf(req);
    const versionId = versionIdOf(req);
    const view = await (versionId === undefined ? engine.head(bucket, key) : engine.headVersion(bucket, key, versionId)).catch(async (e) =>
      Promise.reject(await bucketMissing(deps, bucket, e)),
    );
    checkConditions(view, conditionsOf(req));
    const headers = Object.assign(objectHeaders(view), nextTransitionHeaders(view.next));
    headers["content-length"] = String(view.size);
    return { headers };
  });

  router.register({ name: "DeleteObject", method: "DELETE", target: "object" }, async (req) => {
    const { bucket, key } = objectOf(req);
    try {
      return { status: 204, headers: await deleteObject(deps, bucket, key, req.requestId, versionIdOf(req)) };
    } catch (e) {
      const missing = await bucketMissing(deps, bucket, e);
      if (hasCode(missing, ErrorCode.NoSuchKey)) return { status: 204 }; // S3: deleting what is not there succeeds
      throw missing;
    }
  });
}
