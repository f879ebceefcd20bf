// What `minis3` exits with, so scripts can tell failures apart without reading stderr. README
// "Command line" has the same table; the numbers are an interface: never renumber one.

export const EXIT = {
  /** Done. */
  ok: 0,
  /** A bad command line, no credentials found, or a local file that cannot be read or written. */
  usage: 1,
  /** No such key, bucket or node (HTTP 404). */
  notFound: 2,
  /** The credentials were refused (401: unknown key, wrong secret, clock skew) or are not allowed (403). */
  auth: 3,
  /** The cluster refused the request as asked (another 4xx: invalid key, too large, conflict…). */
  refused: 4,
  /** The cluster could not be reached or could not serve (connection refused, timeout, 5xx). */
  unavailable: 5,
  /** Bytes that do not match their sha256: a download's, or an upload the cluster checked. */
  integrity: 6,
  /** `minis3 chaos`: data lost, wrong, resurrected or stale, or objects not back at R copies. */
  checkFailed: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure `minis3` reports on stderr and exits with. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

/** The exit code of an HTTP error answer from the facade. */
export function exitCodeOfStatus(status: number, errorName: string): ExitCode {
  if (errorName === "BadDigest" || errorName === "IntegrityError") return EXIT.integrity;
  if (status === 404) return EXIT.notFound;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status >= 400 && status < 500) return EXIT.refused;
  return EXIT.unavailable;
}
