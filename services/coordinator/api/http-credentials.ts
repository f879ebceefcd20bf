// Who calls the HTTP facade (ARCHITECTURE.md "Authentication"): a SigV4-signed request (curl
// --aws-sigv4, any AWS signer) or `Authorization: Bearer <token>`, checked in an onRequest hook
// before any route runs or a body byte is read. No credentials: 401 Unauthenticated; bad ones: 401
// with the verifier's code (400 when they cannot be read); a bucket the key may not use, or an
// operator route (/status, node removal) called with a key limited to some buckets: 403.
// Only /healthz, /readyz and the web console's files (no data in them; its calls are signed) stay open. A
// coordinator without keys serves everyone (serve.ts warns at start).
import type { IncomingMessage } from "node:http";
import type { FastifyInstance } from "fastify";
import { contentMd5Of } from "../../auth/checksums";
import type { KeyStore } from "../../auth/keys";
import { type Authenticated, authenticateRequest } from "../../auth/request-credentials";
import { authenticatedBody, checkedBody } from "../../auth/sigv4/body";
import { headersFromRaw } from "../../auth/sigv4/canonical";
import { InvalidArgumentError } from "../../common/errors";
import type { ExpectedDigests } from "../objects/object-engine";
import { ANYONE, type Caller, callerOfIdentity } from "./caller";
import { isConsolePath } from "./http-console";
import { settleUnreadBody } from "./unread-body";

/** Paths served without credentials: load balancers, orchestrators and the launcher probe them. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

export const UNAUTHENTICATED_MESSAGE =
  "this request carries no credentials: sign it with AWS Signature V4 (curl --aws-sigv4 'aws:amz:us-east-1:s3' --user ACCESS_KEY:SECRET_KEY) or send 'Authorization: Bearer <token>' (npm run token)";

const callers = new WeakMap<IncomingMessage, Authenticated>();

/** The answer to a request without credentials: 401, naming both ways to sign. */
export const UNAUTHENTICATED = {
  statusCode: 401,
  headers: { "www-authenticate": 'Bearer realm="minis3", AWS4-HMAC-SHA256' },
  body: { error: "Unauthenticated", message: UNAUTHENTICATED_MESSAGE },
} as const;

/** Checks every request's credentials (when keys are configured) before its route runs. */
export function requireCredentials(app: FastifyInstance, keys: KeyStore | undefined): void {
  if (!keys || keys.size === 0) return;
  app.addHook("onRequest", async (request, reply) => {
    if (!admitted(request.raw, keys)) {
      settleUnreadBody(request.raw, reply.raw);
      return reply.code(UNAUTHENTICATED.statusCode).headers(UNAUTHENTICATED.headers).send(UNAUTHENTICATED.body);
    }
  });
}

/**
 * Whether a request may go on to its route: true on a coordinator without keys, on an open path, or
 * with good credentials (then kept for callerOf); false without any. Bad credentials throw their
 * error (401 or 400 by the error table).
 */
export function admitted(raw: IncomingMessage, keys: KeyStore | undefined): boolean {
  if (!keys || keys.size === 0) return true;
  const url = raw.url ?? "/";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  if (OPEN_PATHS.has(path) || isConsolePath(path)) return true;
  const headers = headersFromRaw(raw.rawHeaders);
  const who = authenticateRequest({ method: raw.method ?? "GET", path, query: q < 0 ? "" : url.slice(q + 1), headers }, keys);
  if (!who) return false;
  callers.set(raw, who);
  return true;
}

/** What this request may do (anything, on a coordinator without keys). */
export function callerOf(raw: IncomingMessage): Caller {
  const who = callers.get(raw);
  return who ? callerOfIdentity(who.identity) : ANYONE;
}

/** True when the request's signature covers its body (a sha256 or aws-chunked payload), which must then be checked as it streams. */
export function bodyIsSigned(raw: IncomingMessage): boolean {
  const kind = callers.get(raw)?.verified?.payload.kind;
  return kind === "sha256" || kind === "chunked";
}

/**
 * A multipart form is parsed by @fastify/multipart from the socket: its file part is stored before
 * the form ends, so neither a signed hash nor a Content-MD5 (both cover the whole form) can be
 * checked before the object commits. Such a form is refused rather than stored unchecked.
 */
export function refuseUncheckableForm(raw: IncomingMessage): void {
  const because = bodyIsSigned(raw) ? "a signed payload hash" : raw.headers["content-md5"] !== undefined ? "a Content-MD5" : undefined;
  if (because !== undefined) {
    throw new InvalidArgumentError(
      `a form (multipart) upload cannot be checked against ${because}, which covers the whole form: send the file as the raw body, or the form without it (UNSIGNED-PAYLOAD, no Content-MD5)`,
    );
  }
}

/**
 * The request's body (`pieces`, as read off it) as the signature says it must be read: decoded from
 * aws-chunked and checked as it streams, failing at the end on a mismatch (the engine then commits
 * nothing); as it is when unsigned. A signed sha256 and a Content-MD5 (signed or not; a malformed
 * one is InvalidDigest here, before any byte) are left to the engine, which hashes every upload
 * anyway (`expected`, PutInput's ExpectedDigests): the body is hashed once.
 */
export function signedUpload(
  raw: IncomingMessage,
  pieces: AsyncIterable<Buffer>,
): { body: AsyncIterable<Buffer>; expected: ExpectedDigests } {
  const verified = callers.get(raw)?.verified;
  if (!verified || !bodyIsSigned(raw)) return { body: pieces, expected: { contentMd5: contentMd5Of(raw.headers["content-md5"]) } };
  const checker = authenticatedBody(verified, headersFromRaw(raw.rawHeaders));
  return { body: checkedBody(pieces, checker), expected: checker.leaveToStore() };
}
