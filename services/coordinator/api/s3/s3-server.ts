// The S3 endpoint's HTTP server: plain node:http (no framework body handling between the socket
// and the signature check: the raw body streams straight into the aws-chunked decoder and on to the
// engine). Per request: address (path or virtual-host style) → verify the signature → check the
// bucket grant → dispatch (router.ts) → reply; any error becomes S3's XML error body.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { checkBucketAccess, type Identity, type KeyStore } from "../../../auth/keys";
import { authenticatedBody, checkedBody, type AuthenticatedBody } from "../../../auth/sigv4/body";
import type { Verified } from "../../../auth/sigv4/verify";
import { type HeaderMap, headerOf, headersFromRaw, parseQuery } from "../../../auth/sigv4/canonical";
import type { Logger } from "../../../common/logger";
import { measureRequest, nameOperation } from "../../../common/metrics/http-metrics";
import { acceptRequestId, REQUEST_ID_HEADER } from "../../../common/request-context";
import { relayBody } from "../body-relay";
import { requestBody } from "../http-upload";
import { settleUnreadBody } from "../unread-body";
import type { HttpTimeouts } from "../http-timeouts";
import type { ClientSignal, ExpectedDigests } from "../../objects/object-engine";
import { addressOf } from "./addressing";
import { authenticate } from "./request-auth";
import type { S3Body, S3Method, S3Reply, S3Request, S3Router } from "./router";
import { s3ErrorOf, s3Errors } from "./s3-errors";
import { errorXml } from "./xml";

export interface S3ServerOptions {
  /** Undefined or empty: every request is refused (403) with a message saying what to configure. */
  keys: KeyStore | undefined;
  /** Virtual-host style under this domain; "" for path style only. */
  domain: string;
  timeouts: HttpTimeouts;
  logger?: Logger;
}

const METHODS = new Set<string>(["GET", "HEAD", "PUT", "POST", "DELETE"]);

/** The query of a request without one, shared (S3Request.query is read-only): no Map made per request. */
const NO_QUERY: ReadonlyMap<string, string> = new Map();

export function createS3Server(router: S3Router, opts: S3ServerOptions): Server {
  const t = opts.timeouts;
  const headersMs = t.requestMs > 0 ? Math.min(t.headersMs, t.requestMs) : t.headersMs;
  const server = createServer({
    requestTimeout: t.requestMs,
    headersTimeout: headersMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionsCheckingInterval: Math.min(1000, headersMs),
  });
  // Idle sockets (no byte either way for idleMs) are destroyed: there is no 'timeout' listener.
  server.setTimeout(t.idleMs);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => void traced(router, opts, req, res, false));
  // `Expect: 100-continue` (aws cli, SDKs for large bodies): the go-ahead is sent only when a handler
  // reads the body, so a request refused by its signature or a check gets its error before any byte.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => void traced(router, opts, req, res, true));
  return server;
}

/**
 * The request's client gone: its response closed before it was finished. A class, not a getter on
 * the request's literal (which made V8 keep every request in dictionary mode) nor an AbortController
 * (a controller, its signal and a 'close' listener per upload; the engine only reads `aborted`).
 */
class ClientGone implements ClientSignal {
  constructor(private readonly res: ServerResponse) {}

  get aborted(): boolean {
    return this.res.destroyed && !this.res.writableFinished;
  }
}

/**
 * S3's x-amz-request-id is the request's id (request-context.ts): a client's sane x-request-id, else
 * a fresh one of S3's form; the answer carries it under both names, and the handlers pass it on
 * (S3Request.requestId).
 *
 * Both names go in each answer's own writeHead headers (send, and the error answer), not set here
 * with res.setHeader: a header set before writeHead sends node:http down its merging path (every
 * header copied into the response's own table), as the facade found (5e9317c). The id is read from
 * the request's header map, not `raw.headers`, which node builds on first use (a second table of
 * every header, for this one). A repeated x-request-id is a list here and ", "-joined there: a fresh
 * id either way. Together ~5 % of the door's server CPU per op (`facade-http` micro, s3 mode, the
 * two builds served at once in both orders, 2026-12-07).
 */
function traced(router: S3Router, opts: S3ServerOptions, raw: IncomingMessage, res: ServerResponse, expectContinue: boolean) {
  const headers = headersFromRaw(raw.rawHeaders);
  const requestId = acceptRequestId(headers[REQUEST_ID_HEADER]);
  return handle(router, opts, raw, res, expectContinue, requestId, headers);
}

async function handle(
  router: S3Router,
  opts: S3ServerOptions,
  raw: IncomingMessage,
  res: ServerResponse,
  expectContinue: boolean,
  requestId: string,
  headers: HeaderMap,
): Promise<void> {
  measureRequest("s3", raw, res);
  const url = raw.url ?? "/";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? "" : url.slice(q + 1);
  let request: DoorRequest | undefined;
  try {
    const method = raw.method ?? "GET";
    if (!METHODS.has(method)) throw s3Errors.methodNotAllowed(`${method} is not an S3 method`);
    const { target, bucket, key } = addressOf(path, headerOf(headers, "host"), opts.domain);
    const verified = authenticate(raw, headers, path, rawQuery, opts.keys);
    if (bucket !== undefined) checkBucketAccess(verified.identity, bucket);
    const query = rawQuery === "" ? NO_QUERY : queryOf(rawQuery);
    const { route, handler } = router.match(method, target, query);
    nameOperation(res, "s3", route.name);
    request = new DoorRequest(method as S3Method, bucket, key, query, headers, verified, requestId, raw, res, expectContinue);
    const reply = await handler(request);
    await send(res, requestId, method, reply);
  } catch (e) {
    const error = s3ErrorOf(e);
    if (error.status >= 500 && opts.logger) opts.logger.error({ err: e, url, requestId }, "S3 request failed");
    if (res.headersSent) {
      res.destroy(); // mid-body: only cutting the connection tells the client the reply is incomplete
      return;
    }
    settleUnreadBody(raw, res, { goAheadWithheld: expectContinue && request?.bodyStarted !== true });
    const xml = raw.method === "HEAD" || error.status === 304 ? undefined : errorXml(error, path, requestId);
    res.writeHead(error.status, {
      "x-request-id": requestId,
      ...error.headers,
      "x-amz-request-id": requestId,
      ...(xml !== undefined ? { "content-type": "application/xml", "content-length": String(Buffer.byteLength(xml)) } : {}),
    });
    res.end(xml);
  }
}

/**
 * What a handler is given. A class, not a literal with `header` and `body` arrow functions: those
 * were two closures and a context for handle's captured variables per request, and authenticate's
 * `openBody` a third (bytes allocated per request: the `facade-http` micro's s3 mode under a
 * sampling heap profile, 2026-12-07).
 */
class DoorRequest implements S3Request {
  readonly signal: ClientGone;
  bodyStarted = false;

  constructor(
    readonly method: S3Method,
    readonly bucket: string | undefined,
    readonly key: string | undefined,
    readonly query: ReadonlyMap<string, string>,
    readonly headers: HeaderMap,
    private readonly verified: Verified,
    readonly requestId: string,
    readonly raw: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly expectContinue: boolean,
  ) {
    this.signal = new ClientGone(res);
  }

  get identity(): Identity {
    return this.verified.identity;
  }

  header(name: string): string | undefined {
    return headerOf(this.headers, name);
  }

  body(bodyOpts?: { digestsByStore?: boolean }): S3Body {
    if (this.bodyStarted) throw new Error("the request body was already read");
    const body = authenticatedBody(this.verified, this.headers); // a checksum header it cannot check fails here, before any byte
    this.bodyStarted = true;
    if (this.expectContinue) this.res.writeContinue();
    return readBody(this.raw, headerOf(this.headers, "content-length"), body, bodyOpts?.digestsByStore === true);
  }
}

/** Query parameters by name, decoded: the first value of a repeated one. */
function queryOf(rawQuery: string): Map<string, string> {
  const query = new Map<string, string>();
  for (const [name, value] of parseQuery(rawQuery)) if (!query.has(name)) query.set(name, value);
  return query;
}

/**
 * The request body through its check, as an iterable that fails with a MiniS3 error when the client
 * goes away; with `digestsByStore` the signed sha256 and the Content-MD5 are handed on (leftToStore),
 * not checked here.
 */
function readBody(raw: IncomingMessage, declared: string | undefined, body: AuthenticatedBody, digestsByStore: boolean): S3Body {
  const leftToStore = digestsByStore ? body.leaveToStore() : {};
  return new CheckedBody(checkedBody(requestBody(raw, declared), body), body, leftToStore);
}

/**
 * The bytes with what their check found, read when asked (a decodedLength taken at the start would
 * be 0 for ever). A class: getters defined on each upload's generator (Object.defineProperties) left
 * it in V8's dictionary mode, ~2 % of the S3 door's CPU in the `facade-http` micro's s3 mode.
 */
class CheckedBody implements S3Body {
  constructor(
    private readonly bytes: AsyncGenerator<Buffer>,
    private readonly check: AuthenticatedBody,
    readonly leftToStore: ExpectedDigests,
  ) {}

  [Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    return this.bytes;
  }

  get checksums(): AuthenticatedBody["checksums"] {
    return this.check.checksums;
  }

  get decodedLength(): number {
    return this.check.decodedLength;
  }
}

async function send(res: ServerResponse, requestId: string, method: string, reply: S3Reply): Promise<void> {
  const headers: Record<string, string> = { "x-request-id": requestId, "x-amz-request-id": requestId, ...reply.headers };
  const status = reply.status ?? 200;
  const body = reply.body;
  if (body === undefined || method === "HEAD") {
    if (body !== undefined && typeof body !== "string" && !Buffer.isBuffer(body)) await body[Symbol.asyncIterator]().return?.();
    if (!("content-length" in headers) && status !== 204 && status !== 304) headers["content-length"] = "0";
    res.writeHead(status, headers);
    res.end();
    return;
  }
  if (typeof body === "string" || Buffer.isBuffer(body)) {
    if (typeof body === "string") headers["content-type"] ??= "application/xml";
    headers["content-length"] = String(Buffer.byteLength(body));
    res.writeHead(status, headers);
    res.end(body);
    return;
  }
  res.writeHead(status, headers);
  await relayBody(res, body);
}
