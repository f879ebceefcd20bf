/**
 * MiniS3's errors: one table of stable codes, no transport in it. Each front door maps a code in
 * its own table at its edge (coordinator/api/http-errors.ts, coordinator/api/grpc-status.ts,
 * rpc/wire-errors.ts), typed Record<ErrorCode, …> so a new code cannot be left out of one.
 */
export enum ErrorCode {
  // --- the caller asked for something that is not there or not allowed
  /** The object, version or blob asked for does not exist (or is not in the trash, for undelete). */
  NoSuchKey = "NoSuchKey",
  /** The bucket asked for does not exist. */
  NoSuchBucket = "NoSuchBucket",
  /** A bucket that still has visible objects cannot be deleted (its trash does not count). */
  BucketNotEmpty = "BucketNotEmpty",
  /** The node asked for (an admin call) is not registered. */
  NoSuchNode = "NoSuchNode",
  /** An admin request the cluster's state refuses: e.g. removing a node would leave fewer storage nodes than R. */
  Conflict = "Conflict",
  /** A request the caller got wrong: a bad name, blob id, limit, or a stream out of order. */
  InvalidArgument = "InvalidArgument",
  /** The body is larger than the limit (or a node's inline read limit). */
  EntityTooLarge = "EntityTooLarge",
  /** A byte range that starts past the end of the object. */
  InvalidRange = "InvalidRange",
  /** The client went away or the upload was cut short. */
  Aborted = "Aborted",

  // --- multipart uploads (S3 names these codes the same)
  /** The multipart upload asked for does not exist: never created, aborted, or completed. */
  NoSuchUpload = "NoSuchUpload",
  /** A part named in a Complete was not uploaded, or its ETag differs from the part's. */
  InvalidPart = "InvalidPart",
  /** A Complete's part list is not in ascending part-number order (or names a part twice). */
  InvalidPartOrder = "InvalidPartOrder",
  /** A part other than the last is smaller than the minimum part size (5 MiB). */
  EntityTooSmall = "EntityTooSmall",

  // --- who is asking (services/auth: AWS Signature V4; S3 names these codes the same)
  /** No valid credentials: none given, a presigned URL expired or not valid yet, or the key may not use the bucket. */
  AccessDenied = "AccessDenied",
  /** The access key in the request is not one MiniS3 knows. */
  InvalidAccessKeyId = "InvalidAccessKeyId",
  /** The signature computed with the key's secret differs from the request's (or a chunk's, or the trailer's). */
  SignatureDoesNotMatch = "SignatureDoesNotMatch",
  /** The request's time is more than 15 minutes from the server's clock. */
  RequestTimeTooSkewed = "RequestTimeTooSkewed",
  /** The Authorization header cannot be read: bad algorithm, credential scope, date or field. */
  AuthorizationHeaderMalformed = "AuthorizationHeaderMalformed",
  /** A presigned URL's X-Amz-* parameters cannot be read, or X-Amz-Expires is out of range. */
  AuthorizationQueryParametersError = "AuthorizationQueryParametersError",
  /** The body does not match the checksum the client sent (Content-MD5, x-amz-checksum-*, a trailer). */
  BadDigest = "BadDigest",
  /** A Content-MD5 header that is not the base64 of 16 bytes: nothing to check the body against. */
  InvalidDigest = "InvalidDigest",
  /** The body's sha256 differs from the x-amz-content-sha256 it was signed with. */
  XAmzContentSHA256Mismatch = "XAmzContentSHA256Mismatch",
  /** The body ended early or its aws-chunked framing is broken (or its length is not x-amz-decoded-content-length). */
  IncompleteBody = "IncompleteBody",

  // --- the bytes
  /** Bytes did not match their size or sha256, or a stored file is damaged. */
  IntegrityError = "IntegrityError",

  // --- the cluster could not do it right now (retrying later may work)
  /** Fewer replicas took a write than the write quorum; what they took was discarded. */
  QuorumNotReached = "QuorumNotReached",
  /** Fewer live nodes of the needed kind than the operation needs, before it started. */
  NotEnoughNodes = "NotEnoughNodes",
  /**
   * A node could not be reached: connection refused, channel down, deadline passed, the Exchange
   * stream broke. The only code that makes the coordinator suspect a node (NodePool.failed).
   */
  NodeUnavailable = "NodeUnavailable",
  /**
   * A node answered a request meant for another node: the address now belongs to someone else (a
   * restarted node took another's old port). The node did nothing; treat it as the one asked for
   * being unreachable there (suspected), never as "the blob is not there".
   */
  WrongNode = "WrongNode",
  /** The catalogue has the object but no replica holding its bytes could be read. */
  BytesUnreachable = "BytesUnreachable",
  /** The catalogue (MariaDB) did not answer, or could not record a change. */
  CatalogueUnavailable = "CatalogueUnavailable",
  /** The lifecycle queue (Redis) did not answer in time. */
  QueueUnavailable = "QueueUnavailable",
  /** Hashing an upload failed: the digest thread died or was stopped. */
  DigestFailed = "DigestFailed",
  /** A node's disk store cannot take the write: it is closed, or a segment write failed. */
  StoreUnavailable = "StoreUnavailable",
  /**
   * The coordinator was streaming as many large uploads as it takes at once (MINIS3_LARGE_UPLOADS),
   * and this one waited its turn for MINIS3_LARGE_UPLOAD_WAIT, or its uploads being received held
   * MINIS3_UPLOAD_BUFFER and this one waited MINIS3_UPLOAD_BUFFER_WAIT for room: nothing was stored;
   * send it again later.
   */
  SlowDown = "SlowDown",

  // --- before anything runs
  /** An environment setting is missing or out of range (common/config.ts; processes exit with 2). */
  InvalidConfig = "InvalidConfig",
  /** The launcher gave up waiting for a coordinator's /healthz (deploy/launcher/health.ts). */
  NotHealthy = "NotHealthy",
  /** A bad command line for the bench (bench/args.ts). */
  InvalidUsage = "InvalidUsage",

  /** Anything else: a bug, or a failure nothing above names. */
  Internal = "Internal",
}

const CODES = new Set<string>(Object.values(ErrorCode));

export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === "string" && CODES.has(s);
}

/** A brand, not instanceof: two copies of this module (jest's registries, a bundled tool) still agree. */
const BRAND = Symbol.for("minis3.error");

export class MiniS3Error extends Error {
  readonly [BRAND] = true;

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export function isMiniS3Error(e: unknown): e is MiniS3Error {
  return typeof e === "object" && e !== null && (e as { [BRAND]?: unknown })[BRAND] === true;
}

/** True when e is a MiniS3 error with this code. */
export function hasCode(e: unknown, code: ErrorCode): boolean {
  return isMiniS3Error(e) && e.code === code;
}

// Thin classes for the codes thrown in many places; each carries only its code.
export class NotFoundError extends MiniS3Error {
  constructor(message: string) {
    super(ErrorCode.NoSuchKey, message);
  }
}
export class InvalidArgumentError extends MiniS3Error {
  constructor(message: string) {
    super(ErrorCode.InvalidArgument, message);
  }
}
export class TooLargeError extends MiniS3Error {
  constructor(message: string) {
    super(ErrorCode.EntityTooLarge, message);
  }
}
export class RangeNotSatisfiableError extends MiniS3Error {
  /** The size of the version the range was resolved against, when known (HTTP's `Content-Range: bytes *\/size`). */
  constructor(
    message: string,
    readonly objectSize?: number,
  ) {
    super(ErrorCode.InvalidRange, message);
  }
}
export class IntegrityError extends MiniS3Error {
  constructor(message: string) {
    super(ErrorCode.IntegrityError, message);
  }
}
export class AbortedError extends MiniS3Error {
  constructor(message: string) {
    super(ErrorCode.Aborted, message);
  }
}

const CLASS_OF: Partial<Record<ErrorCode, new (message: string) => MiniS3Error>> = {
  [ErrorCode.NoSuchKey]: NotFoundError,
  [ErrorCode.InvalidArgument]: InvalidArgumentError,
  [ErrorCode.EntityTooLarge]: TooLargeError,
  [ErrorCode.InvalidRange]: RangeNotSatisfiableError,
  [ErrorCode.IntegrityError]: IntegrityError,
  [ErrorCode.Aborted]: AbortedError,
};

/** The error a code stands for, as its class where it has one (an error read off a wire, say). */
export function errorOf(code: ErrorCode, message: string): MiniS3Error {
  const C = CLASS_OF[code];
  return C ? new C(message) : new MiniS3Error(code, message);
}
