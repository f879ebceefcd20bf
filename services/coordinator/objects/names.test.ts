import { ErrorCode, hasCode } from "../../common/errors";
import { checkContentType, isHeaderSafeContentType } from "./names";

function refusal(contentType: string): unknown {
  try {
    checkContentType(contentType);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("content types (issue 12 item 9, review finding 19)", () => {
  test.each([
    ["CR/LF", "text/plain\r\nx-injected: 1"],
    ["a bare LF", "text/plain\nx"],
    ["NUL", "text/\u0000plain"],
    ["DEL", "text/plain\u007f"],
    ["a C1 control character", "text/plain\u0085"],
    ["a non-latin1 character", "text/plain; name=\u2603"],
    ["an emoji", "image/\u{1F600}"],
  ])("%s is refused at upload with InvalidArgument, and is not sent back as a header", (_what, contentType) => {
    expect(hasCode(refusal(contentType), ErrorCode.InvalidArgument)).toBe(true);
    expect(isHeaderSafeContentType(contentType)).toBe(false);
  });

  test.each([
    "application/octet-stream",
    "text/plain; charset=utf-8",
    "text/plain;\tq=1",
    "text/plain; name=caf\u00e9",
    "x/" + "a".repeat(253),
  ])("%s is accepted and sent back as it is", (contentType) => {
    expect(checkContentType(contentType)).toBe(contentType);
    expect(isHeaderSafeContentType(contentType)).toBe(true);
  });

  test("longer than 255 characters is refused", () => {
    expect(hasCode(refusal("x/" + "a".repeat(254)), ErrorCode.InvalidArgument)).toBe(true);
  });
});
