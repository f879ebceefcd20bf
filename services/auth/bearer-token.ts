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
import type { Identity, KeyStore } from "./keys";
import { sameSignature } from "./sigv4/signing-key";
import { MAX_SKEW_MS } from "./sigv4/verify";

const VERSION = "v1";

function mac(secret: string, accessKey: string, seconds: number): string {
  return createHmac("sha256", secret).update(`minis3-bearer-${VERSION}\n${accessKey}\n${seconds}`).digest("hex");
}

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
  const parts = token.split(":");
  if (parts.length !== 4 || parts[0] !== VERSION || !/^\d{1,12}$/.test(parts[2])) {
    throw new MiniS3Error(ErrorCode.AuthorizationHeaderMalformed, "the bearer token is not v1:<access key>:<unix seconds>:<signature>");
  }
  const [, accessKey, secondsText, signature] = parts;
  const credential = keys.lookup(accessKey);
  if (!credential) throw new MiniS3Error(ErrorCode.InvalidAccessKeyId, `the access key ${accessKey} does not exist`);
  const seconds = Number(secondsText);
  if (Math.abs(nowMs - seconds * 1000) > MAX_SKEW_MS) {
    throw new MiniS3Error(
      ErrorCode.RequestTimeTooSkewed,
      "the bearer token was made more than 15 minutes from the server's time: make a new one (tokens last 15 minutes)",
    );
  }
  if (!sameSignature(mac(credential.secretKey, accessKey, seconds), signature)) {
    throw new MiniS3Error(
      ErrorCode.SignatureDoesNotMatch,
      "the bearer token's signature does not match: check the secret key it was made with",
    );
  }
  return credential.identity;
}
