// S3's face of MiniS3's errors: the S3 error code and HTTP status of each MiniS3 code, errors only
// this door has (preconditions, XML it cannot read, operations it does not implement), and the XML
// error body S3 clients parse (Code, Message, Resource, RequestId).
import { ErrorCode, isMiniS3Error } from "../../../common/errors";

export interface S3ErrorShape {
  status: number;
  code: string;
}

const UNAVAILABLE: S3ErrorShape = { status: 503, code: "ServiceUnavailable" };
const INTERNAL: S3ErrorShape = { status: 500, code: "InternalError" };

/** Each MiniS3 code as S3 names it (typed Record: a new code cannot be left out of this door). */
export const S3_ERRORS: Record<ErrorCode, S3ErrorShape> = {
  [ErrorCode.NoSuchKey]: { status: 404, code: "NoSuchKey" },
  [ErrorCode.NoSuchBucket]: { status: 404, code: "NoSuchBucket" },
  [ErrorCode.BucketNotEmpty]: { status: 409, code: "BucketNotEmpty" },
  [ErrorCode.NoSuchNode]: { status: 404, code: "NotFound" },
  [ErrorCode.Conflict]: { status: 409, code: "OperationAborted" },
  [ErrorCode.InvalidArgument]: { status: 400, code: "InvalidArgument" },
  // S3 answers 400 (not 413) to a body over its limit.
  [ErrorCode.EntityTooLarge]: { status: 400, code: "EntityTooLarge" },
  [ErrorCode.InvalidRange]: { status: 416, code: "InvalidRange" },
  [ErrorCode.NoSuchUpload]: { status: 404, code: "NoSuchUpload" },
  [ErrorCode.InvalidPart]: { status: 400, code: "InvalidPart" },
  [ErrorCode.InvalidPartOrder]: { status: 400, code: "InvalidPartOrder" },
  [ErrorCode.EntityTooSmall]: { status: 400, code: "EntityTooSmall" },
  [ErrorCode.Aborted]: { status: 400, code: "IncompleteBody" },
  [ErrorCode.AccessDenied]: { status: 403, code: "AccessDenied" },
  [ErrorCode.InvalidAccessKeyId]: { status: 403, code: "InvalidAccessKeyId" },
  [ErrorCode.SignatureDoesNotMatch]: { status: 403, code: "SignatureDoesNotMatch" },
  [ErrorCode.RequestTimeTooSkewed]: { status: 403, code: "RequestTimeTooSkewed" },
  [ErrorCode.AuthorizationHeaderMalformed]: { status: 400, code: "AuthorizationHeaderMalformed" },
  [ErrorCode.AuthorizationQueryParametersError]: { status: 400, code: "AuthorizationQueryParametersError" },
  [ErrorCode.BadDigest]: { status: 400, code: "BadDigest" },
  [ErrorCode.InvalidDigest]: { status: 400, code: "InvalidDigest" },
  [ErrorCode.XAmzContentSHA256Mismatch]: { status: 400, code: "XAmzContentSHA256Mismatch" },
  [ErrorCode.IncompleteBody]: { status: 400, code: "IncompleteBody" },
  [ErrorCode.IntegrityError]: INTERNAL,
  [ErrorCode.QuorumNotReached]: UNAVAILABLE,
  [ErrorCode.NotEnoughNodes]: UNAVAILABLE,
  [ErrorCode.NodeUnavailable]: UNAVAILABLE,
  [ErrorCode.WrongNode]: UNAVAILABLE,
  [ErrorCode.BytesUnreachable]: UNAVAILABLE,
  [ErrorCode.CatalogueUnavailable]: UNAVAILABLE,
  [ErrorCode.QueueUnavailable]: UNAVAILABLE,
  [ErrorCode.DigestFailed]: UNAVAILABLE,
  [ErrorCode.StoreUnavailable]: UNAVAILABLE,
  // S3's own answer to "too many requests for now": SDKs and aws cli back off and retry it.
  [ErrorCode.SlowDown]: { status: 503, code: "SlowDown" },
  [ErrorCode.InvalidConfig]: INTERNAL,
  [ErrorCode.NotHealthy]: INTERNAL,
  [ErrorCode.InvalidUsage]: INTERNAL,
  [ErrorCode.Internal]: INTERNAL,
};

/**
 * An error of the S3 protocol itself, with no MiniS3 code behind it: a failed precondition, a body
 * that is not the XML asked for, an operation not implemented. Handlers (multipart's too) throw it.
 */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    /** Headers the error response carries (e.g. an ETag with 304). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "S3Error";
  }
}

export const s3Errors = {
  notModified: (headers: Record<string, string>) => new S3Error("NotModified", 304, "Not Modified", headers),
  preconditionFailed: (what: string) =>
    new S3Error("PreconditionFailed", 412, `at least one of the preconditions you specified did not hold: ${what}`),
  malformedXml: (why: string) =>
    new S3Error("MalformedXML", 400, `the XML you provided was not well-formed or did not validate against our published schema: ${why}`),
  invalidBucketName: (name: string, why: string) =>
    new S3Error("InvalidBucketName", 400, `the specified bucket "${name}" is not valid: ${why}`),
  invalidRequest: (why: string) => new S3Error("InvalidRequest", 400, why),
  methodNotAllowed: (what: string) =>
    new S3Error("MethodNotAllowed", 405, `the specified method is not allowed against this resource: ${what}`),
  notImplemented: (what: string) =>
    new S3Error("NotImplemented", 501, `a header or query you provided implies functionality that is not implemented: ${what}`),
};

export interface S3ErrorResponse {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
}

/** The S3 code, status and message of any error a handler threw (an unknown one is InternalError). */
export function s3ErrorOf(e: unknown): S3ErrorResponse {
  if (e instanceof S3Error) return { status: e.status, code: e.code, message: e.message, headers: e.headers };
  if (isMiniS3Error(e)) {
    const { status, code } = S3_ERRORS[e.code];
    // A MiniS3 code S3 also has (NoSuchKey, BadDigest…) keeps its name; others take S3's nearest.
    const headers: Record<string, string> = {};
    const objectSize = (e as { objectSize?: number }).objectSize;
    if (e.code === ErrorCode.InvalidRange && objectSize !== undefined) headers["content-range"] = `bytes */${objectSize}`;
    return {
      status,
      code,
      message: status >= 500 && status !== 503 ? "We encountered an internal error. Please try again." : e.message,
      headers,
    };
  }
  return { status: 500, code: "InternalError", message: "We encountered an internal error. Please try again.", headers: {} };
}
