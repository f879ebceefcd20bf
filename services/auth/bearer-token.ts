// A bearer token derived from a key pair, for callers that cannot sign each request with SigV4: the
// gRPC API (metadata `authorization: Bearer <token>`) and the HTTP facade. The token names the
// access key and the time it was made, and carries an HMAC of both under the secret, so the server
// checks it without any state:
//
//   v1:<access key>:<unix seconds>:<hex HMAC-SHA256(secret, "minis3-bearer-v1\n<access key>\n<unix seconds>")>
//
// It is good while its time is within 15 minutes of the server's (SigV4's window): a token that
// leaks can be replayed for at most that long, and a client mints a new one at least every few
// minutes (`npm run token` prints one). Not tied to a request: use SigV4 where that matters.
import { createHmac } from "node:crypto";
import { ErrorCode, MiniS3Error } from "../common/errors";
import type { Credential, Identity, KeyStore } from "./keys";
import { sameSignature } from "./sigv4/signing-key";
import { MAX_SKEW_MS } from "./sigv4/verify";

const VERSION = "v1";

function mac(secret: string, accessKey: string, seconds: number): string {
  return createHmac("sha256", secret).update(`minis3-bearer-${VERSION}\n${accessKey}\n${seconds}`).digest("hex");
}

/**
 * Tokens whose signature checked out, with the credential that made it check: a client sends the
 * same token on every call for minutes, and its HMAC (a fresh Hmac object and a hex digest per call)
 * was ~1.7 % of the coordinator's CPU per small request. Only good tokens are kept, each still has
 * its time checked on every use (so one expires exactly as before), and a hit counts only while the
 * key store still holds that very credential. Bounded: cleared when full (tokens are remade every
 * few minutes, so old ones simply stop coming).
 */
const verified = new Map<string, { credential: Credential; seconds: number }>();
const MAX_VERIFIED = 4096;

/** A token for this key pair, made at `nowMs`. */
export function mintBearerToken(accessKey: string, secretKey: string, nowMs = Date.now()): string {
  const seconds = Math.floor(nowMs / 1000);
  return `${VERSION}:${accessKey}:${seconds}:${mac(secretKey, accessKey, seconds)}`;
}

/** The token of an `Authorization: Bearer <token>` value, or undefined when it is not one. */
export function bearerTokenOf(authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return m ? m[1] : undefined;
}

/**
 * Who the token says is asking; throws AuthorizationHeaderMalformed (not a token),
 * InvalidAccessKeyId, RequestTimeTooSkewed (made more than 15 minutes from now) or
 * SignatureDoesNotMatch (not made with the key's secret).
 */
export function verifyBearerToken(token: string, keys: KeyStore, nowMs = Date.now()): Identity {
  const seen = verified.get(token);
  // A token already verified against this very credential: only its time is checked again.
  if (seen && keys.lookup(seen.credential.identity.accessKey) === seen.credential) {
    checkTime(seen.seconds, nowMs);
    return seen.credential.identity;
  }
  const parts = token.split(":");
  if (parts.length !== 4 || parts[0] !== VERSION || !/^\d{1,12}$/.test(parts[2])) {
    throw new MiniS3Error(ErrorCode.AuthorizationHeaderMalformed, "the bearer token is not v1:<access key>:<unix seconds>:<signature>");
  }
  const [, accessKey, secondsText, signature] = parts;
  const credential = keys.lookup(accessKey);
  if (!credential) throw new MiniS3Error(ErrorCode.InvalidAccessKeyId, `the access key ${accessKey} does not exist`);
  const seconds = Number(secondsText);
  checkTime(seconds, nowMs);
  if (!sameSignature(mac(credential.secretKey, accessKey, seconds), signature)) {
    throw new MiniS3Error(
      ErrorCode.SignatureDoesNotMatch,
      "the bearer token's signature does not match: check the secret key it was made with",
    );
  }
  if (verified.size >= MAX_VERIFIED) verified.clear();
  verified.set(token, { credential, seconds });
  return credential.identity;
}

function checkTime(seconds: number, nowMs: number): void {
  if (Math.abs(nowMs - seconds * 1000) > MAX_SKEW_MS) {
    throw new MiniS3Error(
      ErrorCode.RequestTimeTooSkewed,
      "the bearer token was made more than 15 minutes from the server's time: make a new one (tokens last 15 minutes)",
    );
  }
}
