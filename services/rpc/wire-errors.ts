// MiniS3 error codes on the node wire, both ways.
//
// An Exchange result carries a number from WIRE_CODE (0 is OK). A NodeService call (WriteBlob,
// ReadBlob, ListBlobs, GetInfo, ...) that the node fails carries the code's name in the
// `minis3-code` trailer. An error without that trailer was made by the transport (grpc-js on either
// side): only that can mean the node is unreachable, so a node that answers "my MariaDB is down"
// or "bad checksum" is never read as down.
import { Metadata, status } from "@grpc/grpc-js";
import { ErrorCode, errorOf, isErrorCode, isMiniS3Error, MiniS3Error } from "../common/errors";

export const WIRE_OK = 0;

/**
 * Never renumber: both ends of a rolling upgrade read these. The codes that existed before this
 * table keep the gRPC status numbers they were sent as, so an older node's answers still read right.
 */
export const WIRE_CODE: Record<ErrorCode, number> = {
  [ErrorCode.Aborted]: 1,
  [ErrorCode.InvalidArgument]: 3,
  [ErrorCode.NoSuchKey]: 5,
  [ErrorCode.EntityTooLarge]: 8,
  [ErrorCode.InvalidRange]: 11,
  [ErrorCode.Internal]: 13,
  [ErrorCode.IntegrityError]: 15,
  [ErrorCode.NoSuchBucket]: 100,
  [ErrorCode.QuorumNotReached]: 101,
  [ErrorCode.NotEnoughNodes]: 102,
  [ErrorCode.NodeUnavailable]: 103,
  [ErrorCode.BytesUnreachable]: 104,
  [ErrorCode.CatalogueUnavailable]: 105,
  [ErrorCode.QueueUnavailable]: 106,
  [ErrorCode.DigestFailed]: 107,
  [ErrorCode.StoreUnavailable]: 108,
  [ErrorCode.InvalidConfig]: 109,
  [ErrorCode.NotHealthy]: 110,
  [ErrorCode.InvalidUsage]: 111,
  [ErrorCode.WrongNode]: 112,
  [ErrorCode.AccessDenied]: 113,
  [ErrorCode.InvalidAccessKeyId]: 114,
  [ErrorCode.SignatureDoesNotMatch]: 115,
  [ErrorCode.RequestTimeTooSkewed]: 116,
  [ErrorCode.AuthorizationHeaderMalformed]: 117,
  [ErrorCode.AuthorizationQueryParametersError]: 118,
  [ErrorCode.BadDigest]: 119,
  [ErrorCode.XAmzContentSHA256Mismatch]: 120,
  [ErrorCode.IncompleteBody]: 121,
  [ErrorCode.NoSuchNode]: 122,
  [ErrorCode.Conflict]: 123,
  [ErrorCode.NoSuchUpload]: 124,
  [ErrorCode.InvalidPart]: 125,
  [ErrorCode.InvalidPartOrder]: 126,
  [ErrorCode.EntityTooSmall]: 127,
  [ErrorCode.BucketNotEmpty]: 130,
  [ErrorCode.SlowDown]: 131,
  [ErrorCode.InvalidDigest]: 132,
};

const CODE_OF_WIRE = new Map<number, ErrorCode>(Object.entries(WIRE_CODE).map(([code, n]) => [n, code as ErrorCode]));

/** Anything thrown on the node as what goes on the wire; a non-MiniS3 error is Internal. */
export function toWire(e: unknown): { code: ErrorCode; message: string } {
  if (isMiniS3Error(e)) return { code: e.code, message: e.message };
  return { code: ErrorCode.Internal, message: (e as Error)?.message ?? String(e) };
}

/** An Exchange result's failure code and message back into the error the node threw. */
export function fromWireCode(wire: number, message: string): MiniS3Error {
  const code = CODE_OF_WIRE.get(wire);
  return code ? errorOf(code, message) : errorOf(ErrorCode.Internal, `node answered code ${wire}: ${message}`);
}

const TRAILER = "minis3-code";

/** The status a NodeService handler fails its call with (UNKNOWN: the trailer says what it is). */
export function toNodeCallStatus(e: unknown): { code: status; details: string; metadata: Metadata } {
  const w = toWire(e);
  const metadata = new Metadata();
  metadata.set(TRAILER, w.code);
  return { code: status.UNKNOWN, details: w.message, metadata };
}

/** A failed NodeService call on the coordinator: the node's own error, or the transport's. */
export function fromNodeCallError(e: unknown): MiniS3Error {
  if (isMiniS3Error(e)) return e;
  const g = e as { code?: number; details?: string; message?: string; metadata?: Metadata };
  const msg = g.details || g.message || String(e);
  const code = typeof g.metadata?.get === "function" ? g.metadata.get(TRAILER)[0] : undefined;
  if (isErrorCode(code)) return errorOf(code, msg);
  switch (g.code) {
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
    case undefined:
      return errorOf(ErrorCode.NodeUnavailable, msg);
    case status.CANCELLED:
      return errorOf(ErrorCode.Aborted, msg);
    default:
      return errorOf(ErrorCode.Internal, msg);
  }
}
