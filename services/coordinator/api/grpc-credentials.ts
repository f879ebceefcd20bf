// Who calls the gRPC API: ObjectService and AdminService calls carry `authorization: Bearer <token>`
// metadata (auth/bearer-token.ts: the token is made from the key pair, `npm run token` prints one).
// Checked in each handler before anything is read or done: no token or a bad one is UNAUTHENTICATED,
// a bucket the key may not use (or an admin call by a key limited to some buckets) PERMISSION_DENIED.
// A coordinator without keys serves every call (serve.ts warns at start).
import type { Metadata } from "@grpc/grpc-js";
import { bearerTokenOf, verifyBearerToken } from "../../auth/bearer-token";
import type { KeyStore } from "../../auth/keys";
import { ErrorCode, MiniS3Error } from "../../common/errors";
import { ANYONE, type Caller, callerOfIdentity } from "./caller";

export type CallerOf = (metadata: Metadata) => Caller;

export const NO_CREDENTIALS_MESSAGE =
  "the call carries no credentials: send metadata 'authorization: Bearer <token>' (a token from the key pair: npm run token)";

/** The caller of each call, from its metadata; without keys, anyone. */
export function grpcCallers(keys: KeyStore | undefined, now: () => number = Date.now): CallerOf {
  if (!keys || keys.size === 0) return () => ANYONE;
  return (metadata) => {
    const value = metadata.get("authorization")[0];
    const token = bearerTokenOf(typeof value === "string" ? value : undefined);
    if (token === undefined) throw new MiniS3Error(ErrorCode.AuthorizationHeaderMalformed, NO_CREDENTIALS_MESSAGE);
    return callerOfIdentity(verifyBearerToken(token, keys, now()));
  };
}
