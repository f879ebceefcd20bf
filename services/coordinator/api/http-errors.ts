// Every error of the HTTP facade as JSON {error, message} with the status it stands for.
import type { FastifyReply, FastifyRequest } from "fastify";
import { ErrorCode, isMiniS3Error } from "../../common/errors";

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

/** Past this many unread bytes, closing the connection is cheaper than letting node drain them. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * When a reply goes out before the request body was read (413, a failed upload), node would read
 * and discard the rest to keep the connection alive: for a large or unbounded body, close instead.
 */
export function closeIfBodyUnread(request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw;
  if (raw.complete || raw.readableEnded) return;
  const declared = Number(raw.headers["content-length"] ?? NaN);
  if (!(declared <= DRAIN_LIMIT)) reply.header("connection", "close");
}
