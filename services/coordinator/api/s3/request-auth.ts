// Every S3 request is signed (AWS Signature V4): verified before any handler runs, and its body
// checked as it streams. A request that fails gets 403 (or 400 for a malformed one) and changes nothing.
import type { IncomingMessage } from "node:http";
import { ErrorCode, MiniS3Error } from "../../../common/errors";
import type { Identity, KeyStore } from "../../../auth/keys";
import { authenticatedBody, type AuthenticatedBody } from "../../../auth/sigv4/body";
import type { HeaderMap } from "../../../auth/sigv4/canonical";
import { verifyRequest } from "../../../auth/sigv4/verify";

export interface Authenticated {
  identity: Identity;
  /** Not yet reading: the server pipes the request into it when a handler asks for the body. */
  body: AuthenticatedBody;
}

/** The message of the 403 every request gets from a coordinator without keys. */
export const NO_KEYS_MESSAGE =
  "the S3 endpoint has no credentials configured: set MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY (or MINIS3_KEYS_FILE) on the coordinator";

/**
 * Verifies the request's signature (header or presigned URL) and time against the key store, and
 * prepares its body check (bad x-amz-checksum-* or Content-MD5 headers fail here, before any byte).
 */
export function authenticate(
  raw: IncomingMessage,
  headers: HeaderMap,
  path: string,
  query: string,
  keys: KeyStore | undefined,
): Authenticated {
  if (!keys || keys.size === 0) throw new MiniS3Error(ErrorCode.AccessDenied, NO_KEYS_MESSAGE);
  const verified = verifyRequest({ method: raw.method ?? "GET", path, query, headers }, { keys, service: "s3" });
  return { identity: verified.identity, body: authenticatedBody(verified, headers) };
}
