// Every error of the HTTP facade as JSON {error, message} with the status it stands for.
import type { FastifyReply, FastifyRequest } from "fastify";
import { httpStatusOf, MiniS3Error } from "../../common/errors";

export interface ErrorBody {
  error: string;
  message: string;
}

export function errorResponse(e: unknown): { statusCode: number; body: ErrorBody } {
  if (e instanceof MiniS3Error) return { statusCode: httpStatusOf(e.code), body: { error: e.reason, message: e.message } };
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
