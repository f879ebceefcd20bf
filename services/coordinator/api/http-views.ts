// The JSON bodies of the HTTP facade: engine views with times as ISO strings.
import { isHeaderSafeContentType } from "../objects/names";
import type { UpcomingTransition } from "../admin/cluster-admin";
import type { NextTransition, ObjectView, TrashEntryView } from "../objects/object-engine";

const iso = (ms: number): string => new Date(ms).toISOString();

export function uploadedJson(v: ObjectView) {
  return { bucket: v.bucket, key: v.key, size: v.size, sha256: v.sha256, etag: v.etag, versionId: v.versionId };
}

export function objectJson(v: ObjectView) {
  return {
    bucket: v.bucket,
    key: v.key,
    versionId: v.versionId,
    size: v.size,
    sha256: v.sha256,
    etag: v.etag,
    contentType: v.contentType,
    tier: v.tier,
    createdAt: iso(v.createdAtMs),
    lastAccessedAt: iso(v.lastAccessedAtMs),
    replicas: v.replicas,
    metadata: v.metadata,
    // Only the single-object reads know it (stat, undelete does not): absent rather than a false null.
    ...(v.next === undefined ? {} : { next: nextJson(v.next) }),
  };
}

/** `{"transition": "demote" | "purge", "due": ISO time}`, or null when nothing is scheduled. */
export function nextJson(next: NextTransition | null) {
  return next ? { transition: next.transition, due: iso(next.dueAtMs) } : null;
}

/**
 * The next lifecycle move as headers (HEAD of the facade and of S3): S3's own x-amz-expiration
 * speaks of expiry rules, which MiniS3 has none of, so these are named for what they are.
 */
export function nextTransitionHeaders(next: NextTransition | null | undefined): Record<string, string> {
  return next ? { "x-minis3-next-transition": next.transition, "x-minis3-next-transition-due": iso(next.dueAtMs) } : {};
}

export function listedObjectJson(v: ObjectView) {
  return { key: v.key, size: v.size, etag: v.etag, sha256: v.sha256, tier: v.tier, lastModified: iso(v.createdAtMs) };
}

export function trashEntryJson(t: TrashEntryView) {
  return {
    key: t.object.key,
    versionId: t.object.versionId,
    size: t.object.size,
    deletedAt: iso(t.deletedAtMs),
    purgeAt: iso(t.purgeAtMs),
    reason: t.reason,
  };
}

/** One of GET /status/upcoming's transitions: what moves, where it is now, and when it is due. */
export function upcomingJson(u: UpcomingTransition) {
  return {
    transition: u.transition,
    due: iso(u.dueAtMs),
    bucket: u.bucket,
    key: u.key,
    versionId: u.versionId,
    size: u.size,
    tier: u.tier,
  };
}

export function deletedJson(d: { bucket: string; key: string; versionId: string; purgeAtMs: number }) {
  return { bucket: d.bucket, key: d.key, versionId: d.versionId, deleted: true, purgeAt: iso(d.purgeAtMs) };
}

/** The object's headers for GET/HEAD /retrieve (everything but Content-Length and ranges). */
export function objectHeaders(v: ObjectView, servedFrom: string): Record<string, string> {
  const headers: Record<string, string> = {
    // A version stored before uploads were checked may hold a type no header can carry: serve the
    // default rather than fail every read of it with 500.
    "content-type": v.contentType && isHeaderSafeContentType(v.contentType) ? v.contentType : "application/octet-stream",
    etag: `"${v.etag}"`,
    "last-modified": new Date(v.createdAtMs).toUTCString(),
    "accept-ranges": "bytes",
    "x-minis3-version-id": v.versionId,
    "x-minis3-sha256": v.sha256,
    "x-minis3-tier": servedFrom,
  };
  for (const name in v.metadata) {
    const value = v.metadata[name];
    // Metadata set over gRPC may hold what an HTTP header cannot carry: leave such entries out
    // rather than fail the whole read.
    if (HEADER_TOKEN_RE.test(name) && HEADER_VALUE_RE.test(value)) headers[`x-amz-meta-${name}`] = value;
  }
  return headers;
}

const HEADER_TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE_RE = /^[\t\x20-\x7e]*$/;
