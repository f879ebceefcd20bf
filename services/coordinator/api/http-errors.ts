// Every error of the HTTP facade as JSON {error, message} with the status it stands for.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, hasCode, isMiniS3Error, type RangeNotSatisfiableError } from "../../common/errors";
import { settleUnreadBody } from "./unread-body";

export interface ErrorBody {
  error: string;
  message: string;
}

const UNAVAILABLE = { status: 503, error: "Unavailable" };
const INTERNAL = { status: 500, error: "InternalError" };

/**
 * The HTTP status and JSON `error` name of each code. The names are the API's: clients match on
 * them, so a new cause of an existing kind of failure keeps its kind's name (every "try again
 * later" is 503 Unavailable).
 */
export const HTTP_ERRORS: Record<ErrorCode, { status: number; error: string }> = {
  [ErrorCode.NoSuchKey]: { status: 404, error: "NotFound" },
  [ErrorCode.NoSuchBucket]: { status: 404, error: "NotFound" },
  [ErrorCode.BucketNotEmpty]: { status: 409, error: "BucketNotEmpty" },
  [ErrorCode.NoSuchNode]: { status: 404, error: "NotFound" },
  [ErrorCode.Conflict]: { status: 409, error: "Conflict" },
  [ErrorCode.InvalidArgument]: { status: 400, error: "InvalidArgument" },
  [ErrorCode.EntityTooLarge]: { status: 413, error: "EntityTooLarge" },
  [ErrorCode.InvalidRange]: { status: 416, error: "InvalidRange" },
  [ErrorCode.Aborted]: { status: 400, error: "Aborted" },
  [ErrorCode.NoSuchUpload]: { status: 404, error: "NotFound" },
  [ErrorCode.InvalidPart]: { status: 400, error: "InvalidPart" },
  [ErrorCode.InvalidPartOrder]: { status: 400, error: "InvalidPartOrder" },
  [ErrorCode.EntityTooSmall]: { status: 400, error: "EntityTooSmall" },
  [ErrorCode.IntegrityError]: { status: 500, error: "IntegrityError" },
  [ErrorCode.AccessDenied]: { status: 403, error: "AccessDenied" },
  // Credentials that do not say who is asking: 401 (403 is for a caller known but not allowed).
  [ErrorCode.InvalidAccessKeyId]: { status: 401, error: "InvalidAccessKeyId" },
  [ErrorCode.SignatureDoesNotMatch]: { status: 401, error: "SignatureDoesNotMatch" },
  [ErrorCode.RequestTimeTooSkewed]: { status: 401, error: "RequestTimeTooSkewed" },
  [ErrorCode.AuthorizationHeaderMalformed]: { status: 400, error: "AuthorizationHeaderMalformed" },
  [ErrorCode.AuthorizationQueryParametersError]: { status: 400, error: "AuthorizationQueryParametersError" },
  [ErrorCode.BadDigest]: { status: 400, error: "BadDigest" },
  [ErrorCode.InvalidDigest]: { status: 400, error: "InvalidDigest" },
  [ErrorCode.XAmzContentSHA256Mismatch]: { status: 400, error: "BadDigest" },
  [ErrorCode.IncompleteBody]: { status: 400, error: "IncompleteBody" },
  [ErrorCode.QuorumNotReached]: UNAVAILABLE,
  [ErrorCode.NotEnoughNodes]: UNAVAILABLE,
  [ErrorCode.NodeUnavailable]: UNAVAILABLE,
  [ErrorCode.WrongNode]: UNAVAILABLE,
  [ErrorCode.BytesUnreachable]: UNAVAILABLE,
  [ErrorCode.CatalogueUnavailable]: UNAVAILABLE,
  [ErrorCode.QueueUnavailable]: UNAVAILABLE,
  [ErrorCode.DigestFailed]: UNAVAILABLE,
  [ErrorCode.StoreUnavailable]: UNAVAILABLE,
  [ErrorCode.SlowDown]: UNAVAILABLE,
  [ErrorCode.InvalidConfig]: INTERNAL,
  [ErrorCode.NotHealthy]: INTERNAL,
  [ErrorCode.InvalidUsage]: INTERNAL,
  [ErrorCode.Internal]: INTERNAL,
};

export function errorResponse(e: unknown): { statusCode: number; body: ErrorBody } {
  if (isMiniS3Error(e)) {
    const { status, error } = HTTP_ERRORS[e.code];
    return { statusCode: status, body: { error, message: e.message } };
  }
  // fastify's and its plugins' own errors (bad media type, multipart limits) carry a status.
  const err = e as { statusCode?: number; code?: string; message?: string };
  const statusCode = typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  return {
    statusCode,
    body: { error: statusCode === 500 ? "InternalError" : (err.code ?? "BadRequest"), message: err.message ?? String(e) },
  };
}

/**
 * The whole answer to a failed request, for either path of the facade (fastify's error handler, the
 * object routes before it): its status and JSON body, with a `content-range` naming the object's size on a 416.
 * A body the request still has unread (a 413, a failed upload) is settled first: read and dropped, or
 * the connection closed after the answer with a lingering close (unread-body.ts).
 */
export function errorAnswer(
  e: unknown,
  raw: IncomingMessage,
  res: ServerResponse,
): { statusCode: number; headers: Record<string, string>; body: ErrorBody } {
  settleUnreadBody(raw, res);
  const { statusCode, body } = errorResponse(e);
  const headers: Record<string, string> = {};
  const objectSize = hasCode(e, ErrorCode.InvalidRange) ? (e as RangeNotSatisfiableError).objectSize : undefined;
  if (objectSize !== undefined) headers["content-range"] = `bytes */${objectSize}`;
  return { statusCode, headers, body };
}
