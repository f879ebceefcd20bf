// S3's listings on the catalogue: keys with the delimiter rollup (CommonPrefixes), and versions.
// Bounded work: a page reads at most its size plus one row per query, and a common prefix is left
// with one seek (prefix + 0xFF: after every key that starts with it, as no UTF-8 byte is 0xFF)
// rather than by reading every key under it.
import { InvalidArgumentError } from "../../common/errors";
import type { Catalogue } from "../catalogue/catalogue";
import { toObjectView } from "../model/object-view";
import type { KeyListing, KeyListQuery, VersionListing, VersionListQuery } from "./object-engine";

/** Rows per catalogue query while rolling keys up: a group larger than this costs one more query, not its size. */
const GROUPED_PAGE = 100;
const SKIP_GROUP = Buffer.from([0xff]);

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new InvalidArgumentError("max-keys must be 1..1000");
  return limit;
}

const past = (commonPrefix: string): Buffer => Buffer.concat([Buffer.from(commonPrefix, "utf8"), SKIP_GROUP]);

/** The common prefix a key rolls up into, or undefined. */
function groupOf(key: string, prefix: string, delimiter: string): string | undefined {
  if (delimiter === "") return undefined;
  const i = key.indexOf(delimiter, prefix.length);
  return i < 0 ? undefined : key.slice(0, i + delimiter.length);
}

/**
 * Where a listing resumes after `marker`: past its whole group when the marker is inside one (a page
 * that ended on that common prefix listed it already), else undefined: right after the marker.
 */
function pastMarkersGroup(marker: string, prefix: string, delimiter: string): Buffer | undefined {
  const group = marker.startsWith(prefix) ? groupOf(marker, prefix, delimiter) : undefined;
  return group === undefined ? undefined : past(group);
}

function decodeCursor(cursor: string): Buffer {
  const bytes = Buffer.from(cursor, "base64url");
  if (bytes.length === 0 || bytes.length > 1100) throw new InvalidArgumentError("the continuation token is not one this endpoint gave");
  return bytes;
}

export async function listKeys(catalogue: Pick<Catalogue, "list">, bucket: string, q: KeyListQuery): Promise<KeyListing> {
  const limit = checkLimit(q.limit);
  const { prefix, delimiter } = q;
  // A start key inside a group: the group itself sorts before it and was listed already.
  let after =
    q.cursor !== "" ? decodeCursor(q.cursor) : (pastMarkersGroup(q.startAfter, prefix, delimiter) ?? Buffer.from(q.startAfter, "utf8"));
  const out: KeyListing = { objects: [], commonPrefixes: [], nextCursor: "", lastEntry: "" };
  let count = 0;
  for (;;) {
    const want = limit - count + 1; // one more than fits tells whether there is a next page
    const rows = await catalogue.list(bucket, prefix, after, delimiter === "" ? want : Math.min(want, GROUPED_PAGE));
    for (const row of rows) {
      const group = groupOf(row.key, prefix, delimiter);
      if (group !== undefined && group === out.commonPrefixes[out.commonPrefixes.length - 1] && after.equals(past(group))) continue;
      if (count === limit) {
        out.nextCursor = after.toString("base64url");
        return out;
      }
      count++;
      if (group !== undefined) {
        out.commonPrefixes.push(group);
        out.lastEntry = group;
        after = past(group);
      } else {
        out.objects.push(toObjectView(row));
        out.lastEntry = row.key;
        after = Buffer.from(row.key, "utf8");
      }
    }
    if (rows.length < (delimiter === "" ? want : Math.min(want, GROUPED_PAGE))) return out;
  }
}

/**
 * Versions by key, newest first within a key, with the delimiter rollup of listKeys: a common
 * prefix counts as one entry and is left with one seek past it. A key marker inside a group (the
 * NextKeyMarker of a page that ended on that group) resumes after the whole group.
 */
export async function listVersions(
  catalogue: Pick<Catalogue, "listVersions" | "clock">,
  bucket: string,
  q: VersionListQuery,
): Promise<VersionListing> {
  const limit = checkLimit(q.limit);
  const { prefix } = q;
  const delimiter = q.delimiter ?? "";
  const nowMs = await catalogue.clock.now();
  const pastGroup = pastMarkersGroup(q.keyMarker, prefix, delimiter);
  let afterKey: string | Buffer = pastGroup ?? q.keyMarker;
  let afterVersion = pastGroup !== undefined ? "" : q.versionIdMarker;
  const out: VersionListing = { versions: [], commonPrefixes: [], nextKeyMarker: "", nextVersionIdMarker: "" };
  let count = 0;
  let lastKey = "";
  let lastVersion = "";
  for (;;) {
    const want = limit - count + 1; // one more than fits tells whether there is a next page
    const size = delimiter === "" ? want : Math.min(want, GROUPED_PAGE);
    const rows = await catalogue.listVersions(bucket, { prefix, nowMs, afterKey, afterVersion, limit: size });
    for (const v of rows) {
      const group = groupOf(v.key, prefix, delimiter);
      if (group !== undefined && group === out.commonPrefixes[out.commonPrefixes.length - 1]) continue;
      if (count === limit) {
        out.nextKeyMarker = lastKey;
        out.nextVersionIdMarker = lastVersion;
        return out;
      }
      count++;
      if (group !== undefined) {
        out.commonPrefixes.push(group);
        [lastKey, lastVersion] = [group, ""];
        [afterKey, afterVersion] = [past(group), ""];
      } else {
        out.versions.push({
          object: toObjectView(v),
          live: v.state === "live",
          ...(v.state === "live" ? {} : { deletedAtMs: v.deletedMs ?? 0, reason: v.reason ?? "deleted" }),
        });
        [lastKey, lastVersion] = [v.key, v.versionId];
        [afterKey, afterVersion] = [v.key, v.versionId];
      }
    }
    if (rows.length < size) return out;
  }
}
