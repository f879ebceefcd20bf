import { ErrorCode, errorOf, hasCode, isErrorCode, isMiniS3Error, MiniS3Error, NotFoundError, TooLargeError } from "./errors";

describe("MiniS3 errors", () => {
  test("carry their code, message and class name", () => {
    const e = new TooLargeError("too big");
    expect(e).toMatchObject({ code: ErrorCode.EntityTooLarge, message: "too big", name: "TooLargeError" });
    expect(hasCode(e, ErrorCode.EntityTooLarge)).toBe(true);
    expect(hasCode(e, ErrorCode.InvalidArgument)).toBe(false);
  });

  test("are recognised across copies of this module, and plain errors are not", async () => {
    let Copy!: typeof MiniS3Error;
    await jest.isolateModulesAsync(async () => {
      Copy = (await import("./errors")).MiniS3Error;
    });
    const other = new Copy(ErrorCode.QuorumNotReached, "from another copy");
    expect(other).not.toBeInstanceOf(MiniS3Error);
    expect(isMiniS3Error(other)).toBe(true);
    expect(hasCode(other, ErrorCode.QuorumNotReached)).toBe(true);
    expect(isMiniS3Error(new Error("plain"))).toBe(false);
    expect(isMiniS3Error({ code: ErrorCode.NoSuchKey, message: "look-alike" })).toBe(false);
  });

  test("errorOf builds the class a code is thrown as, so instanceof still holds after a wire", () => {
    expect(errorOf(ErrorCode.NoSuchKey, "gone")).toBeInstanceOf(NotFoundError);
    const e = errorOf(ErrorCode.CatalogueUnavailable, "db down");
    expect(e).toBeInstanceOf(MiniS3Error);
    expect(e).toMatchObject({ code: ErrorCode.CatalogueUnavailable, message: "db down" });
  });

  test("codes are stable strings equal to their names (clients and logs match on them)", () => {
    for (const [name, code] of Object.entries(ErrorCode)) expect(code).toBe(name);
    expect(isErrorCode("NoSuchKey")).toBe(true);
    expect(isErrorCode("NotFound")).toBe(false);
  });
});
