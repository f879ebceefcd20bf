import { ErrorCode, hasCode } from "../../common/errors";
import { checkContentType, checkKey, isHeaderSafeContentType } from "./names";

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

describe("keys", () => {
  const refused = (key: string) => {
    try {
      checkKey(key);
    } catch (e) {
      return hasCode(e, ErrorCode.InvalidArgument);
    }
    return false;
  };

  test("1-1024 bytes of UTF-8 pass, counted in bytes, not characters", () => {
    for (const key of ["k", "a/b/c.txt", "x".repeat(1024), "é".repeat(512), "東".repeat(341), "🙂".repeat(256), "🙂x東é"]) {
      expect(checkKey(key)).toBe(key);
    }
    for (const key of ["", "x".repeat(1025), "é".repeat(513), "東".repeat(342), "🙂".repeat(257), "東".repeat(341) + "xy"]) {
      expect(refused(key)).toBe(true);
    }
  });

  test("control characters and lone surrogates (not UTF-8) are refused; pairs pass", () => {
    for (const key of ["a\u0000b", "a\nb", "a\u007f", "a\uD83D", "\uDE42a", "a\uDE42\uD83Db", "🙂\uD83D"]) expect(refused(key)).toBe(true);
    expect(checkKey("\uD83D\uDE42")).toBe("🙂");
  });
});
