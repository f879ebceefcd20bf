// S3's listings: ListObjectsV2 (GET /bucket?list-type=2), ListObjects (V1, GET /bucket), and
// ListObjectVersions (GET /bucket?versions: the visible versions and the trash, each deleted
// version behind a delete marker, so versioning-aware clients see what undelete can bring back).
import { InvalidArgumentError } from "../../../common/errors";
import type { ObjectView, VersionEntry } from "../../objects/object-engine";
import { storageClassOf } from "./object-headers";
import type { S3Deps, S3Request, S3Router } from "./router";
import { s3Document } from "./xml";

const MAX_KEYS = 1000;

/** max-keys: 0..1000 (more is taken as 1000, as S3 does). */
function maxKeysOf(req: S3Request): number {
  const text = req.query.get("max-keys");
  if (text === undefined) return MAX_KEYS;
  if (!/^\d{1,9}$/.test(text)) throw new InvalidArgumentError(`max-keys must be a whole number, not "${text}"`);
  return Math.min(Number(text), MAX_KEYS);
}

/** encoding-type=url: keys and prefixes in the answer percent-encoded (keys may hold characters XML cannot). */
function encoderOf(req: S3Request): { encodingType?: string; enc: (s: string) => string } {
  const type = req.query.get("encoding-type");
  if (type === undefined) return { enc: (s) => s };
  if (type !== "url") throw new InvalidArgumentError(`encoding-type must be "url", not "${type}"`);
  return { encodingType: "url", enc: (s) => encodeURIComponent(s).replace(/%2F/g, "/") };
}

const iso = (ms: number) => new Date(ms).toISOString();

function contents(view: ObjectView, enc: (s: string) => string): Record<string, unknown> {
  return {
    Key: enc(view.key),
    LastModified: iso(view.createdAtMs),
    ETag: `"${view.etag}"`,
    Size: view.size,
    StorageClass: storageClassOf(view.tier),
  };
}

/** A key's delete marker shows the deletion of one trashed version; its id names that version. */
export const DELETE_MARKER_SUFFIX = ".deleted";

export function registerListing(router: S3Router, deps: S3Deps): void {
  const { engine } = deps;

  router.register({ name: "ListObjectVersions", method: "GET", target: "bucket", subresource: "versions" }, async (req) => {
    const bucket = req.bucket!;
    await deps.buckets.headBucket(bucket);
    const { encodingType, enc } = encoderOf(req);
    const prefix = req.query.get("prefix") ?? "";
    const delimiter = req.query.get("delimiter") ?? "";
    const keyMarker = req.query.get("key-marker") ?? "";
    const versionIdMarker = keyMarker === "" ? "" : (req.query.get("version-id-marker") ?? "");
    const maxKeys = maxKeysOf(req);
    const page =
      maxKeys === 0
        ? { versions: [], commonPrefixes: [], nextKeyMarker: "", nextVersionIdMarker: "" }
        : await engine.listVersions(bucket, { prefix, delimiter, keyMarker, versionIdMarker, limit: maxKeys });
    const latest = latestOf(page.versions);
    const versions: Record<string, unknown>[] = [];
    const markers: Record<string, unknown>[] = [];
    for (const v of page.versions) {
      versions.push({
        Key: enc(v.object.key),
        VersionId: v.object.versionId,
        IsLatest: v.live && latest.get(v.object.key) === v,
        LastModified: iso(v.object.createdAtMs),
        ETag: `"${v.object.etag}"`,
        Size: v.object.size,
        StorageClass: storageClassOf(v.object.tier),
      });
      if (!v.live && v.reason === "deleted") {
        markers.push({
          Key: enc(v.object.key),
          VersionId: v.object.versionId + DELETE_MARKER_SUFFIX,
          IsLatest: latest.get(v.object.key) === v,
          LastModified: iso(v.deletedAtMs ?? 0),
        });
      }
    }
    return {
      body: s3Document("ListVersionsResult", {
        Name: bucket,
        Prefix: enc(prefix),
        KeyMarker: enc(keyMarker),
        VersionIdMarker: versionIdMarker,
        MaxKeys: maxKeys,
        ...(delimiter !== "" ? { Delimiter: enc(delimiter) } : {}),
        ...(encodingType ? { EncodingType: encodingType } : {}),
        IsTruncated: page.nextKeyMarker !== "",
        ...(page.nextKeyMarker !== "" ? { NextKeyMarker: enc(page.nextKeyMarker), NextVersionIdMarker: page.nextVersionIdMarker } : {}),
        Version: versions,
        DeleteMarker: markers,
        CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
      }),
    };
  });

  router.register({ name: "ListObjects", method: "GET", target: "bucket" }, async (req) => {
    const bucket = req.bucket!;
    await deps.buckets.headBucket(bucket);
    const { encodingType, enc } = encoderOf(req);
    const prefix = req.query.get("prefix") ?? "";
    const delimiter = req.query.get("delimiter") ?? "";
    const maxKeys = maxKeysOf(req);
    const v2 = req.query.get("list-type") === "2";
    if (!v2 && req.query.has("list-type")) throw new InvalidArgumentError(`list-type must be 2, not "${req.query.get("list-type")}"`);
    const token = v2 ? (req.query.get("continuation-token") ?? "") : "";
    const startAfter = (v2 ? req.query.get("start-after") : req.query.get("marker")) ?? "";
    const page =
      maxKeys === 0
        ? { objects: [], commonPrefixes: [], nextCursor: "", lastEntry: "" }
        : await engine.listKeys(bucket, { prefix, delimiter, cursor: token, startAfter, limit: maxKeys });
    const truncated = page.nextCursor !== "";
    const common = {
      Name: bucket,
      Prefix: enc(prefix),
      ...(delimiter !== "" ? { Delimiter: enc(delimiter) } : {}),
      MaxKeys: maxKeys,
      ...(encodingType ? { EncodingType: encodingType } : {}),
      IsTruncated: truncated,
    };
    const entries = {
      Contents: page.objects.map((o) => contents(o, enc)),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    };
    if (v2) {
      return {
        body: s3Document("ListBucketResult", {
          ...common,
          KeyCount: page.objects.length + page.commonPrefixes.length,
          ...(token !== "" ? { ContinuationToken: token } : {}),
          ...(truncated ? { NextContinuationToken: page.nextCursor } : {}),
          ...(startAfter !== "" ? { StartAfter: enc(startAfter) } : {}),
          ...entries,
        }),
      };
    }
    return {
      body: s3Document("ListBucketResult", {
        ...common,
        Marker: enc(startAfter),
        ...(truncated ? { NextMarker: enc(page.lastEntry) } : {}),
        ...entries,
      }),
    };
  });
}

/**
 * The latest entry of each key in a page: its visible version, else the most recently deleted one
 * (shown through its delete marker). Judged within the page: a key whose versions span two pages
 * is judged on each page's part.
 */
function latestOf(entries: VersionEntry[]): Map<string, VersionEntry> {
  const latest = new Map<string, VersionEntry>();
  for (const e of entries) {
    const cur = latest.get(e.object.key);
    if (!cur) latest.set(e.object.key, e);
    else if (!cur.live && (e.live || (e.deletedAtMs ?? 0) > (cur.deletedAtMs ?? 0))) latest.set(e.object.key, e);
  }
  return latest;
}
