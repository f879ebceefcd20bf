// Who is asking, for the HTTP facade: a SigV4-signed request (curl --aws-sigv4, the AWS SDKs'
// signers) or `Authorization: Bearer <token>` (bearer-token.ts). The S3 endpoint takes SigV4 only
// (verifyRequest), the gRPC API the bearer token only (its metadata has no request to sign).
import { ErrorCode, hasCode } from "../common/errors";
import { bearerTokenOf, verifyBearerToken } from "./bearer-token";
import type { Identity, KeyStore } from "./keys";
import { canonicalQuery, headerOf, parseQuery } from "./sigv4/canonical";
import { hasSignature, type SignedRequest, type Verified, verifyRequest } from "./sigv4/verify";

export interface Authenticated {
  identity: Identity;
  /** For a SigV4 request: how its body must be checked (authenticatedBody). */
  verified?: Verified;
}

/**
 * The identity of a request, or undefined when it carries no credentials at all (the caller
 * answers "unauthenticated"). Throws the verifier's MiniS3Error when the credentials are bad.
 */
export function authenticateRequest(
  req: SignedRequest,
  keys: KeyStore,
  opts: { region?: string; now?: number } = {},
): Authenticated | undefined {
  const token = bearerTokenOf(headerOf(req.headers, "authorization"));
  if (token !== undefined) return { identity: verifyBearerToken(token, keys, opts.now) };
  if (!hasSignature(req)) return undefined;
  const verifyOpts = { keys, region: opts.region, now: opts.now };
  try {
    const verified = verifyRequest(req, verifyOpts);
    return { identity: verified.identity, verified };
  } catch (e) {
    // curl before 8 signs the query as sent: only worth a second HMAC when that differs.
    if (!hasCode(e, ErrorCode.SignatureDoesNotMatch) || req.query === canonicalQuery(parseQuery(req.query))) throw e;
    try {
      const verified = verifyRequest(req, { ...verifyOpts, queryAsSent: true });
      return { identity: verified.identity, verified };
    } catch {
      throw e;
    }
  }
}
