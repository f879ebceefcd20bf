// Every S3 request is signed (AWS Signature V4): verified before any handler runs, and its body
// checked as it streams. A request that fails gets 403 (or 400 for a malformed one) and changes nothing.
import type { IncomingMessage } from "node:http";
import { ErrorCode, MiniS3Error } from "../../../common/errors";
import type { KeyStore } from "../../../auth/keys";
import type { HeaderMap } from "../../../auth/sigv4/canonical";
import { verifyRequest, type Verified } from "../../../auth/sigv4/verify";

/** The message of the 403 every request gets from a coordinator without keys. */
export const NO_KEYS_MESSAGE =
  "the S3 endpoint has no credentials configured: set MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY (or MINIS3_KEYS_FILE) on the coordinator";

/**
 * Verifies the request's signature (header or presigned URL) and time against the key store. The
 * body's check is made from the answer when a handler asks for the body (authenticatedBody: most
 * requests have none: a check, a Transform stream, for every GET and DELETE was ~2 % of the S3
 * door's CPU, 2026-12-05); a checksum header it cannot check (an unsupported algorithm, a bad
 * Content-MD5) fails it then, before any byte.
 */
export function authenticate(raw: IncomingMessage, headers: HeaderMap, path: string, query: string, keys: KeyStore | undefined): Verified {
  if (!keys || keys.size === 0) throw new MiniS3Error(ErrorCode.AccessDenied, NO_KEYS_MESSAGE);
  return verifyRequest({ method: raw.method ?? "GET", path, query, headers }, { keys, service: "s3" });
}
