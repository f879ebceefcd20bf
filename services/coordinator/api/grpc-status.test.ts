import { status } from "@grpc/grpc-js";
import { ErrorCode, errorOf } from "../../common/errors";
import { grpcStatusOf } from "./grpc-status";

describe("gRPC status of each code", () => {
  test.each(Object.values(ErrorCode))("%s maps to a failing status", (code) => {
    const s = grpcStatusOf(errorOf(code, "why"));
    expect(s.code).not.toBe(status.OK);
    expect(s.details).toBe("why");
  });

  test.each([
    [ErrorCode.NoSuchKey, status.NOT_FOUND],
    [ErrorCode.InvalidArgument, status.INVALID_ARGUMENT],
    [ErrorCode.EntityTooLarge, status.RESOURCE_EXHAUSTED],
    [ErrorCode.InvalidRange, status.OUT_OF_RANGE],
    [ErrorCode.Aborted, status.CANCELLED],
    [ErrorCode.IntegrityError, status.DATA_LOSS],
    [ErrorCode.QuorumNotReached, status.UNAVAILABLE],
    [ErrorCode.CatalogueUnavailable, status.UNAVAILABLE],
    [ErrorCode.SlowDown, status.RESOURCE_EXHAUSTED],
    [ErrorCode.Internal, status.INTERNAL],
  ])("%s is status %d", (code, expected) => {
    expect(grpcStatusOf(errorOf(code, "m")).code).toBe(expected);
  });

  test("an error that is not MiniS3's is INTERNAL", () => {
    expect(grpcStatusOf(new Error("boom"))).toEqual({ code: status.INTERNAL, details: "boom" });
  });
});
