import { status } from "@grpc/grpc-js";

/**
 * Typed errors shared by every service. Each carries the gRPC status it maps to; the HTTP facade
 * maps the same codes to HTTP statuses (see httpStatusOf).
 */
export class MiniS3Error extends Error {
  constructor(readonly code: status, message: string, readonly reason: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends MiniS3Error {
  constructor(message: string) { super(status.NOT_FOUND, message, "NotFound"); }
}
export class InvalidArgumentError extends MiniS3Error {
  constructor(message: string) { super(status.INVALID_ARGUMENT, message, "InvalidArgument"); }
}
export class TooLargeError extends MiniS3Error {
  constructor(message: string) { super(status.RESOURCE_EXHAUSTED, message, "EntityTooLarge"); }
}
/** A byte range that starts past the end of the object. */
export class RangeNotSatisfiableError extends MiniS3Error {
  constructor(message: string) { super(status.OUT_OF_RANGE, message, "InvalidRange"); }
}
export class UnavailableError extends MiniS3Error {
  constructor(message: string) { super(status.UNAVAILABLE, message, "Unavailable"); }
}
/** Bytes did not match their size or sha256. */
export class IntegrityError extends MiniS3Error {
  constructor(message: string) { super(status.DATA_LOSS, message, "IntegrityError"); }
}
/** The client went away or the upload was cut short. */
export class AbortedError extends MiniS3Error {
  constructor(message: string) { super(status.CANCELLED, message, "Aborted"); }
}

const HTTP_OF: Partial<Record<status, number>> = {
  [status.NOT_FOUND]: 404,
  [status.INVALID_ARGUMENT]: 400,
  [status.RESOURCE_EXHAUSTED]: 413,
  [status.OUT_OF_RANGE]: 416,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.CANCELLED]: 400,
  [status.FAILED_PRECONDITION]: 409,
  [status.ALREADY_EXISTS]: 409,
  [status.DEADLINE_EXCEEDED]: 504,
};

export function httpStatusOf(code: status): number {
  return HTTP_OF[code] ?? 500;
}

/** Turns a gRPC error from a remote call back into the typed error it stands for. */
export function fromGrpcError(e: unknown): MiniS3Error {
  if (e instanceof MiniS3Error) return e;
  const g = e as { code?: number; details?: string; message?: string };
  const msg = g.details || g.message || String(e);
  switch (g.code) {
    case status.NOT_FOUND: return new NotFoundError(msg);
    case status.INVALID_ARGUMENT: return new InvalidArgumentError(msg);
    case status.DATA_LOSS: return new IntegrityError(msg);
    case status.CANCELLED: return new AbortedError(msg);
    case status.RESOURCE_EXHAUSTED: return new TooLargeError(msg);
    case status.OUT_OF_RANGE: return new RangeNotSatisfiableError(msg);
    case status.UNAVAILABLE: case status.DEADLINE_EXCEEDED: case undefined: return new UnavailableError(msg);
    default: return new MiniS3Error(g.code as status, msg, "Internal");
  }
}

/** A plain object grpc-js sends as the call's status. */
export function toGrpcStatus(e: unknown): { code: status; details: string } {
  if (e instanceof MiniS3Error) return { code: e.code, details: e.message };
  return { code: status.INTERNAL, details: (e as Error)?.message ?? String(e) };
}
