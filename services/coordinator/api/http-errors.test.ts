import { ErrorCode, errorOf } from "../../common/errors";
import { errorResponse } from "./http-errors";

describe("HTTP status and JSON error of each code", () => {
  test.each(Object.values(ErrorCode))("%s maps to an error status and a name", (code) => {
    const { statusCode, body } = errorResponse(errorOf(code, "why"));
    expect(statusCode).toBeGreaterThanOrEqual(400);
    expect(statusCode).toBeLessThan(600);
    expect(body).toEqual({ error: expect.stringMatching(/^[A-Z][A-Za-z]+$/), message: "why" });
  });

  // The API's own values: clients depend on them.
  test.each([
    [ErrorCode.NoSuchKey, 404, "NotFound"],
    [ErrorCode.InvalidArgument, 400, "InvalidArgument"],
    [ErrorCode.EntityTooLarge, 413, "EntityTooLarge"],
    [ErrorCode.InvalidRange, 416, "InvalidRange"],
    [ErrorCode.Aborted, 400, "Aborted"],
    [ErrorCode.IntegrityError, 500, "IntegrityError"],
    [ErrorCode.QuorumNotReached, 503, "Unavailable"],
    [ErrorCode.NodeUnavailable, 503, "Unavailable"],
    [ErrorCode.CatalogueUnavailable, 503, "Unavailable"],
    [ErrorCode.SlowDown, 503, "Unavailable"],
    [ErrorCode.Internal, 500, "InternalError"],
  ])("%s is %d %s", (code, status, error) => {
    expect(errorResponse(errorOf(code, "m"))).toEqual({ statusCode: status, body: { error, message: "m" } });
  });

  test("an error that is not MiniS3's is a 500 without its stack", () => {
    expect(errorResponse(new Error("boom"))).toEqual({ statusCode: 500, body: { error: "InternalError", message: "boom" } });
  });
});
