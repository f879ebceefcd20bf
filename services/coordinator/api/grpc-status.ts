// The gRPC status each MiniS3 error code answers with on the coordinator's ObjectService and
// AdminService. Clients match on these statuses: every "try again later" is UNAVAILABLE.
import { status } from "@grpc/grpc-js";
import { ErrorCode, isMiniS3Error } from "../../common/errors";

export const GRPC_STATUS: Record<ErrorCode, status> = {
  [ErrorCode.NoSuchKey]: status.NOT_FOUND,
  [ErrorCode.NoSuchBucket]: status.NOT_FOUND,
  [ErrorCode.BucketNotEmpty]: status.FAILED_PRECONDITION,
  [ErrorCode.NoSuchNode]: status.NOT_FOUND,
  [ErrorCode.Conflict]: status.FAILED_PRECONDITION,
  [ErrorCode.InvalidArgument]: status.INVALID_ARGUMENT,
  [ErrorCode.EntityTooLarge]: status.RESOURCE_EXHAUSTED,
  [ErrorCode.InvalidRange]: status.OUT_OF_RANGE,
  [ErrorCode.Aborted]: status.CANCELLED,
  [ErrorCode.NoSuchUpload]: status.NOT_FOUND,
  [ErrorCode.InvalidPart]: status.INVALID_ARGUMENT,
  [ErrorCode.InvalidPartOrder]: status.INVALID_ARGUMENT,
  [ErrorCode.EntityTooSmall]: status.INVALID_ARGUMENT,
  [ErrorCode.IntegrityError]: status.DATA_LOSS,
  [ErrorCode.AccessDenied]: status.PERMISSION_DENIED,
  [ErrorCode.InvalidAccessKeyId]: status.UNAUTHENTICATED,
  [ErrorCode.SignatureDoesNotMatch]: status.UNAUTHENTICATED,
  [ErrorCode.RequestTimeTooSkewed]: status.UNAUTHENTICATED,
  [ErrorCode.AuthorizationHeaderMalformed]: status.UNAUTHENTICATED,
  [ErrorCode.AuthorizationQueryParametersError]: status.UNAUTHENTICATED,
  [ErrorCode.BadDigest]: status.INVALID_ARGUMENT,
  [ErrorCode.InvalidDigest]: status.INVALID_ARGUMENT,
  [ErrorCode.XAmzContentSHA256Mismatch]: status.INVALID_ARGUMENT,
  [ErrorCode.IncompleteBody]: status.INVALID_ARGUMENT,
  [ErrorCode.QuorumNotReached]: status.UNAVAILABLE,
  [ErrorCode.NotEnoughNodes]: status.UNAVAILABLE,
  [ErrorCode.NodeUnavailable]: status.UNAVAILABLE,
  [ErrorCode.WrongNode]: status.UNAVAILABLE,
  [ErrorCode.BytesUnreachable]: status.UNAVAILABLE,
  [ErrorCode.CatalogueUnavailable]: status.UNAVAILABLE,
  [ErrorCode.QueueUnavailable]: status.UNAVAILABLE,
  [ErrorCode.DigestFailed]: status.UNAVAILABLE,
  [ErrorCode.StoreUnavailable]: status.UNAVAILABLE,
  [ErrorCode.SlowDown]: status.RESOURCE_EXHAUSTED,
  [ErrorCode.InvalidConfig]: status.INTERNAL,
  [ErrorCode.NotHealthy]: status.INTERNAL,
  [ErrorCode.InvalidUsage]: status.INTERNAL,
  [ErrorCode.Internal]: status.INTERNAL,
};

/** A plain object grpc-js sends as the call's status; anything that is not a MiniS3 error is INTERNAL. */
export function grpcStatusOf(e: unknown): { code: status; details: string } {
  if (isMiniS3Error(e)) return { code: GRPC_STATUS[e.code], details: e.message };
  return { code: status.INTERNAL, details: (e as Error)?.message ?? String(e) };
}
