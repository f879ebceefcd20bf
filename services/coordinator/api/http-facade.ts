// The coordinator's HTTP facade: the original endpoints (/upload, /retrieve, /delete) plus undelete,
// listing, trash on the ObjectEngine, and status and health on the ClusterAdmin. Bodies stream both ways; nothing
// buffers a whole object except small reads (small-body.ts).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import multipart from "@fastify/multipart";
import { ErrorCode, hasCode, InvalidArgumentError, RangeNotSatisfiableError, TooLargeError } from "../../common/errors";
import { readConfig } from "../../common/config";
import { measureRequest, nameOperation } from "../../common/metrics/http-metrics";
import { timeline } from "../../common/metrics/timeline";
import type { Logger } from "../../common/logger";
import { DEFAULT_UPCOMING, MAX_UPCOMING, type ClusterAdmin } from "../admin/cluster-admin";
import { checkKey } from "../objects/names";
import type { ObjectEngine, ObjectView } from "../objects/object-engine";
import type { KeyStore } from "../../auth/keys";
import { serveConsole } from "./http-console";
import { callerOf, refuseSignedMultipart, requireCredentials, signedBody } from "./http-credentials";
import { drainOnClose } from "./http-drain";
import { httpRequestId, REQUEST_ID_LOG_LABEL, traceHttpRequests } from "./request-ids";
import { closeIfBodyUnread, errorResponse } from "./http-errors";
import { contentRange, parseRange } from "./http-range";
import { HTTP_TIMEOUT_SETTINGS, httpTimeouts, type HttpTimeouts } from "./http-timeouts";
import { declaredLength, metadataFromHeaders, multipartFileBody, requestBody } from "./http-upload";
import { relayBody } from "./body-relay";
import { gather, SMALL_BODY } from "./small-body";
import {
  deletedJson,
  listedObjectJson,
  nextTransitionHeaders,
  objectHeaders,
  objectJson,
  trashEntryJson,
  upcomingJson,
  uploadedJson,
} from "./http-views";

export interface HttpFacadeOptions {
  /** Largest object accepted, in bytes. */
  maxObjectSize: number;
  /** Warnings and errors only: the facade never logs per request. */
  logger?: Logger;
  /** Default: the settings' defaults. */
  timeouts?: HttpTimeouts;
  /** Who may call (http-credentials.ts); undefined: anyone. */
  keys?: KeyStore;
}

type Query = Record<string, string | string[] | undefined>;
type Req = FastifyRequest<{ Querystring: Query; Params: Record<string, string> }>;
type Method = "GET" | "HEAD" | "POST" | "DELETE";

const OCTET_STREAM = "application/octet-stream";
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1000;

export function createHttpFacade(engine: ObjectEngine, admin: ClusterAdmin, opts: HttpFacadeOptions): FastifyInstance {
  const t = opts.timeouts ?? httpTimeouts(readConfig(HTTP_TIMEOUT_SETTINGS, {}));
  // Node refuses a headers timeout above a (non-zero) request timeout.
  const headersMs = t.requestMs > 0 ? Math.min(t.headersMs, t.requestMs) : t.headersMs;
  const app = Fastify({
    connectionTimeout: t.idleMs,
    keepAliveTimeout: t.keepAliveMs,
    requestTimeout: t.requestMs,
    // Node checks the headers and request timeouts every connectionsCheckingInterval (30 s by
    // default, which would let a header trickle run 30 s past its limit): check every second at most.
    http: { headersTimeout: headersMs, connectionsCheckingInterval: Math.min(1000, headersMs) },
    ...(opts.logger ? { loggerInstance: opts.logger as unknown as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: REQUEST_ID_LOG_LABEL }),
    genReqId: httpRequestId,
    exposeHeadRoutes: false, // HEAD /retrieve is its own route: it must not read the body
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  // Before fastify's own listener, so the time includes routing. Each route names its operation
  // (below); a request refused before its route runs (credentials, 404) stays "other".
  app.server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => measureRequest("facade", req, res));
  drainOnClose(app);
  traceHttpRequests(app);
  requireCredentials(app, opts.keys);

  // Uploads stream: no parser may read the body, whatever its type. Multipart is the exception,
  // parsed lazily by @fastify/multipart when the handler asks for the file.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));
  app.register(multipart, { limits: { fileSize: opts.maxObjectSize, files: 1, fields: 100 }, throwFileSizeLimit: true });

  const allowedMethods = new Map<string, Method[]>();
  const route = (method: Method, url: string, handler: (request: Req, reply: FastifyReply) => Promise<unknown>): void => {
    allowedMethods.set(url, [...(allowedMethods.get(url) ?? []), method]);
    // The operation's metrics name, made once here: a route hook costs no lookup per request (fastify's
    // request.routeOptions builds an object at each read).
    const op = `${method} ${url}`;
    app.route<{ Querystring: Query; Params: Record<string, string> }>({
      method,
      url,
      handler,
      onRequest: (_request, reply, done) => {
        nameOperation(reply.raw, "facade", op);
        done();
      },
    });
  };

  route("POST", "/upload", async (request, reply) => {
    const { bucket, key } = objectTarget(request);
    const contentLength = declaredLength(request.headers);
    if (contentLength !== undefined && contentLength > opts.maxObjectSize) {
      throw new TooLargeError(`object of ${contentLength} bytes exceeds the limit of ${opts.maxObjectSize}`);
    }
    const metadata = metadataFromHeaders(request.headers);
    let view: ObjectView;
    if (request.isMultipart()) {
      refuseSignedMultipart(request.raw);
      const part = await request.file();
      if (!part) throw new InvalidArgumentError('multipart upload without a file: send it in a field named "file"');
      if (part.fieldname !== "file") throw new InvalidArgumentError(`expected the file in a field named "file", got "${part.fieldname}"`);
      view = await engine.put({
        bucket,
        key,
        metadata,
        contentType: part.mimetype || OCTET_STREAM,
        body: multipartFileBody(part.file, opts.maxObjectSize),
        requestId: request.id,
      });
    } else {
      view = await engine.put({
        bucket,
        key,
        metadata,
        contentLength,
        contentType: request.headers["content-type"] || OCTET_STREAM,
        body: signedBody(request.raw, requestBody(request.raw)),
        requestId: request.id,
      });
    }
    return reply.code(201).send(uploadedJson(view));
  });

  route("GET", "/retrieve", async (request, reply) => {
    const { bucket, key } = objectTarget(request);
    const range = parseRange(request.headers.range);
    const got = await engine.get(bucket, key, range, request.id);
    if (range && got.length === 0) {
      // Only an empty object resolves to no bytes, and HTTP has no range of it.
      await got.body[Symbol.asyncIterator]().return?.();
      throw new RangeNotSatisfiableError(`an empty object has no byte range`, 0);
    }
    const headers = objectHeaders(got.object, got.servedFrom);
    headers["content-length"] = String(got.length);
    if (range) {
      reply.code(206);
      headers["content-range"] = contentRange(got.offset, got.length, got.object.size);
    }
    if (got.length <= SMALL_BODY) {
      const bytes = await gather(got.body);
      return reply.headers(headers).send(bytes);
    }
    // Written on by relayBody, which hands each chunk back once written (fastify pipes a stream,
    // which cannot tell when): the reply is taken over, with the headers fastify holds for it.
    reply.hijack();
    reply.raw.writeHead(range ? 206 : 200, { ...reply.getHeaders(), ...headers } as OutgoingHttpHeaders);
    await relayBody(reply.raw, got.body);
  });

  route("HEAD", "/retrieve", async (request, reply) => {
    const { bucket, key } = objectTarget(request);
    const view = await engine.head(bucket, key);
    const headers = Object.assign(objectHeaders(view, view.tier), nextTransitionHeaders(view.next));
    headers["content-length"] = String(view.size);
    return reply.headers(headers).send();
  });

  route("DELETE", "/delete", async (request) => {
    const { bucket, key } = objectTarget(request);
    return deletedJson(await engine.delete(bucket, key, request.id));
  });

  // The current version, or with versionId= any restorable one (a trashed version shows its purge).
  route("GET", "/stat", async (request) => {
    const { bucket, key } = objectTarget(request);
    const versionId = param(request.query, "versionId");
    return objectJson(await (versionId === undefined ? engine.head(bucket, key) : engine.headVersion(bucket, key, versionId)));
  });

  route("GET", "/objects", async (request) => {
    const q = listQuery(request);
    const page = await engine.list(q.bucket, q.prefix, q.limit, q.cursor);
    return { bucket: q.bucket, prefix: q.prefix, objects: page.objects.map(listedObjectJson), nextCursor: page.nextCursor };
  });

  route("POST", "/undelete", async (request) => {
    const { bucket, key } = objectTarget(request);
    return objectJson(await engine.undelete(bucket, key, request.id));
  });

  route("GET", "/trash", async (request) => {
    const q = listQuery(request);
    const page = await engine.listTrash(q.bucket, q.prefix, q.limit, q.cursor);
    return { bucket: q.bucket, prefix: q.prefix, entries: page.entries.map(trashEntryJson), nextCursor: page.nextCursor };
  });

  route("GET", "/status", async (request) => {
    callerOf(request.raw).admin();
    return admin.status();
  });

  route("GET", "/status/transitions", async (request) => {
    callerOf(request.raw).admin();
    return { transitions: admin.transitions() };
  });

  // What this process did a second at a time (common/metrics/timeline.ts): the lifecycle's pages,
  // moves and lateness, its catalogue batches, event-loop delay and GC pauses. `since`: Date.now() ms.
  route("GET", "/status/timeline", async (request) => {
    callerOf(request.raw).admin();
    const since = Number((request.query as Record<string, string | undefined>).since ?? 0);
    return { timeline: timeline.view(Number.isFinite(since) ? since : 0) };
  });

  // The next transitions cluster-wide, soonest first (the console's and `minis3 status`'s list).
  route("GET", "/status/upcoming", async (request) => {
    callerOf(request.raw).admin();
    const limit = limitOf(request.query, DEFAULT_UPCOMING, MAX_UPCOMING);
    return { upcoming: (await admin.upcoming(limit)).map(upcomingJson) };
  });

  // Writes off a node that is already down, at once (its copies count as gone; repair follows).
  route("POST", "/nodes/retire", async (request) => {
    callerOf(request.raw).admin();
    const id = param(request.query, "id");
    if (!id) throw new InvalidArgumentError("id: the node to retire");
    return admin.retireNode(id);
  });

  // Takes a node out for good, its copies made elsewhere first: 202 while it drains, 200 once removed.
  route("POST", "/admin/nodes/:id/remove", async (request, reply) => {
    callerOf(request.raw).admin();
    const node = await admin.removeNode(request.params.id);
    return reply.code(node.state === "removed" ? 200 : 202).send(node);
  });

  route("GET", "/healthz", async (_request, reply) => {
    try {
      const health = await admin.health();
      return reply.code(health.ok ? 200 : 503).send({ status: health.ok ? "ok" : "unavailable", ...health });
    } catch (e) {
      return reply.code(503).send({ status: "unavailable", message: (e as Error).message });
    }
  });

  // Readiness for load balancers and orchestrators: 200 when this coordinator can serve, 503 naming
  // the checks that failed (admin/readiness.ts). Open, like /healthz.
  route("GET", "/readyz", async (_request, reply) => {
    const r = await admin.readiness();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? "ready" : "unavailable", ...r });
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?", 1)[0];
    const allowed = allowedMethods.get(path);
    if (allowed) {
      return reply
        .code(405)
        .header("allow", allowed.join(", "))
        .send({ error: "MethodNotAllowed", message: `${request.method} ${path} is not supported; use ${allowed.join(" or ")}` });
    }
    return reply.code(404).send({ error: "NotFound", message: `no such endpoint: ${request.method} ${path}` });
  });

  app.setErrorHandler((error, request, reply) => {
    const { statusCode, body } = errorResponse(error);
    if (statusCode >= 500) request.log.error({ err: error, url: request.url }, "request failed");
    closeIfBodyUnread(request, reply);
    const objectSize = hasCode(error, ErrorCode.InvalidRange) ? (error as RangeNotSatisfiableError).objectSize : undefined;
    if (objectSize !== undefined) reply.header("content-range", `bytes */${objectSize}`);
    return reply.code(statusCode).type("application/json; charset=utf-8").send(body);
  });

  serveConsole(app, opts.logger);
  answerExpectContinue(app, opts.maxObjectSize);
  return app;
}

/**
 * curl and most S3 tools send `Expect: 100-continue` with large bodies and wait for the server's
 * go-ahead. Node would give it unasked; instead an upload over the size limit gets its 413 before
 * the client sends a byte, rather than an error (or a reset) mid-body.
 */
function answerExpectContinue(app: FastifyInstance, maxObjectSize: number): void {
  app.server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    const declared = declaredLength(req.headers);
    if (declared !== undefined && declared > maxObjectSize) {
      const { statusCode, body } = errorResponse(new TooLargeError(`object of ${declared} bytes exceeds the limit of ${maxObjectSize}`));
      res.writeHead(statusCode, { "content-type": "application/json; charset=utf-8", connection: "close" });
      res.end(JSON.stringify(body));
      return;
    }
    res.writeContinue();
    app.server.emit("request", req, res);
  });
}

function param(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw new InvalidArgumentError(`query parameter "${name}" given more than once`);
  return value;
}

/** The bucket (checked, and allowed to the caller) and key a request names. */
function objectTarget(request: Req): { bucket: string; key: string } {
  return { bucket: bucketOf(request), key: checkKey(param(request.query, "key")) };
}

function bucketOf(request: Req): string {
  return callerOf(request.raw).bucket(param(request.query, "bucket"));
}

/** `limit=` of a query: a whole number from 1 to `max`, `fallback` when absent. */
function limitOf(query: Query, fallback: number, max: number): number {
  const limitText = param(query, "limit");
  if (limitText === undefined) return fallback;
  const limit = /^\d{1,7}$/.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= max)) throw new InvalidArgumentError(`limit must be a whole number from 1 to ${max}, got "${limitText}"`);
  return limit;
}

function listQuery(request: Req): { bucket: string; prefix: string; limit: number; cursor: string } {
  const query = request.query;
  return {
    bucket: bucketOf(request),
    prefix: param(query, "prefix") ?? "",
    limit: limitOf(query, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT),
    cursor: param(query, "cursor") ?? "",
  };
}
