import { parseDuration, parseSize } from "./units";

// The checks config.ts's table gives each setting: the raw text (the env value or its default) to
// its value, or an Error saying what is wrong (readConfig names the variable). Plain functions, not
// zod: every process reads its config before it serves, and zod's require was 0.6-0.8 s of a storage
// node's 2.5 s from start to listening under the chaos load (load ~10 on 2 cores), time a killed
// node is away.

export type Check<T> = (raw: string) => T;

function fail(message: string): never {
  throw new Error(message);
}

/** Any text. */
export const text: Check<string> = (s) => s;

export const nonEmpty: Check<string> = (s) => (s.length >= 1 ? s : fail("must not be empty"));

/** Text no longer than `max` characters. */
export const atMost =
  (max: number): Check<string> =>
  (s) =>
    s.length <= max ? s : fail(`at most ${max} characters`);

/** Text that passes `test` (a regular expression or a predicate); `message` says what it must be. */
export const matching =
  (test: RegExp | ((s: string) => boolean), message: string): Check<string> =>
  (s) =>
    (typeof test === "function" ? test(s) : test.test(s)) ? s : fail(message);

/** A whole number in [min, max] (as zod's coerce did: Number(text), so "" is 0). */
export const wholeNumber =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check<number> =>
  (s) => {
    const n = Number(s);
    if (!Number.isInteger(n)) fail(`not a whole number`);
    return n >= min && n <= max ? n : fail(max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}` : `must be from ${min} to ${max}`);
  };

/** A duration in ms ("30s", "5m", "1h30m", or a number of ms), optionally with a rule on its value. */
export const duration =
  (rule?: { ok: (ms: number) => boolean; message: string }): Check<number> =>
  (s) => {
    const ms = parseDuration(s);
    return !rule || rule.ok(ms) ? ms : fail(rule.message);
  };

/** A size in bytes ("4096", "64KiB", "5GiB"). */
export const size: Check<number> = (s) => parseSize(s);

/**
 * A size that names its unit ("16MiB"; a bare "0" is none): for a setting that once was a count,
 * whose old bare numbers would otherwise be read as bytes (`why` says what they meant).
 */
export const sizeWithUnit =
  (why: string): Check<number> =>
  (s) =>
    /^\s*\d+\s*$/.test(s) && Number(s) !== 0 ? fail(`needs a unit, e.g. 16MiB (0: off): ${why}`) : parseSize(s);

/** A URL whose scheme is one of `protocols` ("mysql:"…). */
export const url =
  (protocols: string[]): Check<string> =>
  (s) => {
    let protocol: string | undefined;
    try {
      protocol = new URL(s).protocol;
    } catch {
      // not a URL at all
    }
    return protocol && protocols.includes(protocol)
      ? s
      : fail(`must be a URL starting with ${protocols.map((p) => p + "//").join(" or ")}`);
  };

/** One of a fixed list of words. */
export const oneOf =
  <const T extends string>(values: readonly T[]): Check<T> =>
  (s) =>
    (values as readonly string[]).includes(s) ? (s as T) : fail(`one of ${values.join(", ")}`);
