// DeleteObjects (POST /bucket?delete): up to 1000 keys in one XML request, each deleted as
// DeleteObject would (a missing key counts as deleted); Quiet answers only the failures.
import { ErrorCode, hasCode } from "../../../common/errors";
import { Semaphore } from "../../../common/semaphore";
import { deleteObject } from "./object-ops";
import type { S3Deps, S3Router } from "./router";
import { s3ErrorOf, s3Errors } from "./s3-errors";
import { asList, parseXml, readXmlBody, s3Document, xmlText } from "./xml";

/** S3's limit per request. */
const MAX_KEYS = 1000;
/** Deletes of one request in flight at once: each is a grouped catalogue write, so a few suffice. */
const CONCURRENCY = 16;

/**
 * A key's <Deleted> entry, as S3 writes it: the version the request named, and the delete marker the
 * delete made or removed (DeleteObject's x-amz-delete-marker and x-amz-version-id headers).
 */
function deletedEntry(key: string, versionId: string | undefined, headers: Record<string, string> = {}): Record<string, unknown> {
  const entry: Record<string, unknown> = { Key: key };
  if (versionId !== undefined) entry.VersionId = versionId;
  if (headers["x-amz-delete-marker"] === "true") {
    entry.DeleteMarker = true;
    entry.DeleteMarkerVersionId = headers["x-amz-version-id"];
  }
  return entry;
}

export function registerBatchDelete(router: S3Router, deps: S3Deps): void {
  router.register({ name: "DeleteObjects", method: "POST", target: "bucket", subresource: "delete" }, async (req) => {
    const bucket = req.bucket!;
    const doc = parseXml(await readXmlBody(req.body()), "Delete");
    const quiet = xmlText(doc.Quiet).trim() === "true";
    const objects = asList(doc.Object as Record<string, unknown> | Record<string, unknown>[] | undefined);
    if (objects.length === 0) throw s3Errors.malformedXml("a Delete names at least one Object");
    if (objects.length > MAX_KEYS) throw s3Errors.malformedXml(`at most ${MAX_KEYS} objects per request`);
    const keys = objects.map((o) => ({ key: xmlText(o.Key), versionId: o.VersionId === undefined ? undefined : xmlText(o.VersionId) }));
    await deps.buckets.headBucket(bucket);

    const gate = new Semaphore(CONCURRENCY);
    const outcomes = await Promise.all(
      keys.map(({ key, versionId }) =>
        gate.run(async () => {
          try {
            if (key === "") throw s3Errors.invalidRequest("an empty key");
            const headers = await deleteObject(deps, bucket, key, req.requestId, versionId === "null" ? undefined : versionId);
            return { key, deleted: deletedEntry(key, versionId, headers) };
          } catch (e) {
            if (hasCode(e, ErrorCode.NoSuchKey)) return { key, deleted: deletedEntry(key, versionId) };
            return { key, error: s3ErrorOf(e) };
          }
        }),
      ),
    );
    return {
      body: s3Document("DeleteResult", {
        Deleted: quiet ? [] : outcomes.filter((o) => !o.error).map((o) => o.deleted),
        Error: outcomes.filter((o) => o.error).map((o) => ({ Key: o.key, Code: o.error!.code, Message: o.error!.message })),
      }),
    };
  });
}
