// The contract between the coordinator's client APIs (HTTP facade, gRPC ObjectService, later S3)
// and the object engine that does the work. Both APIs validate nothing themselves beyond parsing:
// the engine throws the typed errors of services/common/errors.ts.

import { ErrorCode, MiniS3Error } from "../../common/errors";
import type { RequestId } from "../../common/request-context";
import type { NextTransition, ObjectView, Tier, TrashEntryView } from "../model/object-view";
import type { ObjectBody } from "../model/object-body";

// The views live in model/ (the catalogue maps its rows to them too); the contract names them.
export type { NextTransition, ObjectView, Tier, TrashEntryView };

/**
 * Whether the client of a request has gone away: all the engine asks of a front door's request
 * (an AbortSignal is one; the S3 door's is cheaper, api/s3/s3-server.ts).
 */
export interface ClientSignal {
  readonly aborted: boolean;
}

/**
 * Digests a client sent for its body, left by the front door for the engine to compare with the
 * digest it makes of every upload (sha256, and md5 for the ETag) before any copy is kept or anything
 * committed: the body is hashed once, and a large one is refused before its version commits.
 */
export interface ExpectedDigests {
  /** The sha256 (hex) the body was signed with (S3's and the facade's signed payloads; api/s3/s3-server.ts), or a gRPC upload's header or trailer named. */
  payloadSha256?: string;
  /** The md5 (hex) of its Content-MD5 header (auth/checksums.ts contentMd5Of), or a gRPC upload's md5. */
  contentMd5?: string;
}

/**
 * What an engine answers when an upload's digests (hex) are not those its client sent; undefined
 * when they are (or none was sent). Every engine checks through this one function.
 */
export function digestMismatch(expected: ExpectedDigests, actual: { sha256: () => string; md5: string }): MiniS3Error | undefined {
  if (expected.payloadSha256 !== undefined && actual.sha256() !== expected.payloadSha256) {
    return new MiniS3Error(
      ErrorCode.XAmzContentSHA256Mismatch,
      "the body's sha256 is not the one the request gave (x-amz-content-sha256, or the gRPC upload's sha256): nothing was stored",
    );
  }
  if (expected.contentMd5 !== undefined && actual.md5 !== expected.contentMd5) {
    const sent = Buffer.from(expected.contentMd5, "hex").toString("base64");
    const got = Buffer.from(actual.md5, "hex").toString("base64");
    return new MiniS3Error(ErrorCode.BadDigest, `the body's Content-MD5 is ${got}; the request says ${sent}: nothing was stored`);
  }
  return undefined;
}

export interface PutInput extends ExpectedDigests {
  bucket: string;
  key: string;
  contentType: string;
  /** Declared length (HTTP Content-Length, gRPC content_length): fewer or more bytes fail the upload. */
  contentLength?: number;
  metadata: Record<string, string>;
  /** Pulled as fast as the nodes take it: pulling is the backpressure. Throwing aborts the upload. */
  body: AsyncIterable<Buffer>;
  /** Aborted when the client gave up. Checked once more just before the commit. */
  signal?: ClientSignal;
  /**
   * Awaited once the copies are made, just before the commit; throwing leaves nothing behind. A
   * gRPC upload confirms there that the body's end was the client's and not a cancel, which can
   * arrive just after what looks like the end (api/grpc-call-reader.ts).
   */
  confirmEnd?: () => Promise<void>;
  /**
   * The ETag to store instead of the body's md5: a multipart upload's ("<hex md5 of the parts'
   * md5s>-<part count>", S3's form). Set by the engine's multipart Complete, never from a client.
   */
  etag?: string;
  /**
   * A multipart Complete's claim on its upload (catalogue's MultipartFence): the version commits
   * only with the upload still its own, marked completed in the same transaction. Set by the
   * engine's multipart Complete, never from a client.
   */
  completes?: { uploadId: string; stateMs: number };
  /** The request uploading it (request-context.ts): its node ops and lines, and the trash move of what it replaces, name it. */
  requestId: RequestId;
}

/**
 * A range of an object's bytes, resolved by the engine against the version it reads (one lookup:
 * a size looked up before could belong to another version by then).
 */
export type ByteRange =
  | { offset: number; length?: number } // to the end when length is absent
  | { suffix: number }; // the last `suffix` bytes (HTTP "bytes=-n")

export interface GetResult {
  object: ObjectView;
  offset: number;
  length: number;
  servedFrom: Tier;
  /**
   * The bytes; stop iterating (return()) to cancel the read on the node. A chunk written to a
   * socket is handed back (body.recycle) in the write's callback.
   */
  body: ObjectBody;
}

export interface DeleteResult {
  bucket: string;
  key: string;
  versionId: string;
  purgeAtMs: number;
}

export interface ListResult {
  objects: ObjectView[];
  nextCursor: string; // "" on the last page
}

export interface TrashListResult {
  entries: TrashEntryView[];
  nextCursor: string;
}

/** A page of keys as S3 lists them: objects, and the common prefixes that roll up keys with a delimiter. */
export interface KeyListQuery {
  prefix: string;
  /** "" for none. */
  delimiter: string;
  /** A previous page's nextCursor, or "" to start at `startAfter`. */
  cursor: string;
  /** Keys after this one (a key inside a common prefix already listed skips the rest of it). */
  startAfter: string;
  /** Objects and common prefixes together, 1..1000. */
  limit: number;
}

export interface KeyListing {
  objects: ObjectView[];
  commonPrefixes: string[];
  /** "" on the last page; opaque otherwise. */
  nextCursor: string;
  /** The page's last key or common prefix (S3's NextMarker). */
  lastEntry: string;
}

/** One version in a versioned listing: the visible one, or one in the trash that undelete can bring back. */
export interface VersionEntry {
  object: ObjectView;
  live: boolean;
  /** Trash only: when it was deleted or overwritten. */
  deletedAtMs?: number;
  reason?: "deleted" | "overwritten";
}

export interface VersionListQuery {
  prefix: string;
  /** S3's delimiter rollup, as listKeys does it ("" or absent: none). */
  delimiter?: string;
  keyMarker: string;
  versionIdMarker: string;
  limit: number;
}

export interface VersionListing {
  versions: VersionEntry[];
  /** The common prefixes keys roll up into with a delimiter, in key order among the versions. */
  commonPrefixes: string[];
  /** The position after this page ("" on the last page). */
  nextKeyMarker: string;
  nextVersionIdMarker: string;
}

/** A bucket as the client APIs show it. */
export interface BucketView {
  name: string;
  createdAtMs: number;
  /** The user who created it through S3; "" when an upload made it. */
  owner: string;
}

/**
 * Buckets are rows in the catalogue. Any upload (every door) makes its bucket's row when it commits;
 * S3 also creates and deletes them explicitly.
 */
export interface BucketEngine {
  /** `created` false: it existed already (then `bucket` is the existing one). */
  createBucket(name: string, owner: string): Promise<{ created: boolean; bucket: BucketView }>;
  /** NoSuchBucket when there is none. */
  headBucket(name: string): Promise<BucketView>;
  /**
   * NoSuchBucket when there is none, as headBucket, for an upload's check before its body: a
   * bucket this coordinator saw within the last second is taken to exist without asking again.
   */
  requireBucket(name: string): Promise<void>;
  /** Every bucket, by name. */
  listBuckets(): Promise<BucketView[]>;
  /** NoSuchBucket, or BucketNotEmpty while it has a visible object (its trash does not count). */
  deleteBucket(name: string): Promise<void>;
}

/**
 * What the client APIs call. Calls whose work reaches the nodes or the lifecycle take the id of the
 * request they serve (`requestId`, request-context.ts): their node ops and log lines name it.
 */
export interface ObjectEngine {
  put(input: PutInput): Promise<ObjectView>;
  get(bucket: string, key: string, range: ByteRange | undefined, requestId: RequestId): Promise<GetResult>;
  head(bucket: string, key: string): Promise<ObjectView>;
  /**
   * The key's visible version to the trash; NoSuchKey when it has none. With `onlyVersion`, only if
   * that is the visible version when the delete commits, checked in its transaction (NoSuchKey
   * otherwise): a version committed after the caller looked is never the one trashed.
   */
  delete(bucket: string, key: string, requestId: RequestId, onlyVersion?: string): Promise<DeleteResult>;
  list(bucket: string, prefix: string, limit: number, cursor: string): Promise<ListResult>;
  /**
   * The key's most recent restorable version visible again (the visible one, if any, to the trash).
   * With `onlyVersion` (S3's removal of a delete marker), only that version, only if it was deleted,
   * is the key's most recent deletion and the key has no visible version, checked under the key's
   * lock; NoSuchKey otherwise.
   */
  undelete(bucket: string, key: string, requestId: RequestId, onlyVersion?: string): Promise<ObjectView>;
  listTrash(bucket: string, prefix: string, limit: number, cursor: string): Promise<TrashListResult>;
  /** Keys with S3's delimiter rollup, bounded: a common prefix is skipped by a seek, not read through. */
  listKeys(bucket: string, query: KeyListQuery): Promise<KeyListing>;
  /** Live and restorable versions, by key then newest first. */
  listVersions(bucket: string, query: VersionListQuery): Promise<VersionListing>;
  /** One version of a key, live or in the trash (not yet purged); NoSuchKey (or NoSuchVersion-like NoSuchKey) otherwise. */
  getVersion(bucket: string, key: string, versionId: string, range: ByteRange | undefined, requestId: RequestId): Promise<GetResult>;
  headVersion(bucket: string, key: string, versionId: string): Promise<ObjectView>;
}
