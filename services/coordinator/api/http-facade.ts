// The coordinator's HTTP facade: the original endpoints (/upload, /retrieve, /delete) plus undelete,
// listing, trash on the ObjectEngine, and status and health on the ClusterAdmin. Bodies stream both ways; nothing
// buffers a whole object except small reads (small-body.ts).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import multipart from "@fastify/multipart";
import { InvalidArgumentError, TooLargeError } from "../../common/errors";
import { readConfig } from "../../common/config";
import { measureRequest, nameOperation } from "../../common/metrics/http-metrics";
import { timeline } from "../../common/metrics/timeline";
import type { Logger } from "../../common/logger";
import { DEFAULT_UPCOMING, MAX_UPCOMING, type ClusterAdmin } from "../admin/cluster-admin";
import type { ObjectEngine } from "../objects/object-engine";
import type { KeyStore } from "../../auth/keys";
import { serveConsole } from "./http-console";
import { callerOf, requireCredentials } from "./http-credentials";
import { drainOnClose } from "./http-drain";
import { httpRequestId, REQUEST_ID_LOG_LABEL, traceHttpRequests } from "./request-ids";
import { errorAnswer, errorResponse } from "./http-errors";
import { JSON_TYPE, OBJECT_ROUTE_METHODS, objectRoutes, putObject, sendJson } from "./http-object-routes";
import { bucketOf, objectTarget, param, parseQuery, type Query } from "./http-query";
import { HTTP_TIMEOUT_SETTINGS, httpTimeouts, type HttpTimeouts } from "./http-timeouts";
import { declaredLength } from "./http-upload";
import { settleUnreadBody } from "./unread-body";
import {
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

type Req = FastifyRequest<{ Querystring: Query; Params: Record<string, string> }>;
type Method = "GET" | "HEAD" | "POST" | "DELETE";

const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1000;

export function createHttpFacade(engine: ObjectEngine, admin: ClusterAdmin, opts: HttpFacadeOptions): FastifyInstance {
  const t = opts.timeouts ?? httpTimeouts(readConfig(HTTP_TIMEOUT_SETTINGS, {}));
  // Node refuses a headers timeout above a (non-zero) request timeout.
  const headersMs = t.requestMs > 0 ? Math.min(t.headersMs, t.requestMs) : t.headersMs;
  let closing = false;
  const objectRoute = objectRoutes(engine, opts, () => closing);
  const app = Fastify({
    // The server is made here, as fastify would make it, so that the object routes answer before
    // fastify's handler (http-object-routes.ts says why).
    serverFactory: (fastifyHandler) => {
      const server = createServer(
        // Node checks the headers and request timeouts every connectionsCheckingInterval (30 s by
        // default, which would let a header trickle run 30 s past its limit): check every second at most.
        { headersTimeout: headersMs, connectionsCheckingInterval: Math.min(1000, headersMs) },
        (req, res) => objectRoute(req, res) || fastifyHandler(req, res),
      );
      server.keepAliveTimeout = t.keepAliveMs;
      server.requestTimeout = t.requestMs;
      server.setTimeout(t.idleMs);
      return server;
    },
    routerOptions: { querystringParser: parseQuery },
    ...(opts.logger ? { loggerInstance: opts.logger as unknown as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: REQUEST_ID_LOG_LABEL }),
    genReqId: httpRequestId,
    exposeHeadRoutes: false, // HEAD /retrieve is its own route: it must not read the body
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  // Before fastify's own listener, so the time includes routing. Each route names its operation
  // (below); a request refused before its route runs (credentials, 404) stays "other".
  app.server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => measureRequest("facade", req, res));
  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });
  drainOnClose(app);
  traceHttpRequests(app);
  requireCredentials(app, opts.keys);

  // Uploads stream: no parser may read the body, whatever its type. Multipart is the exception,
  // parsed lazily by @fastify/multipart when the handler asks for the file.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));
  app.register(multipart, { limits: { fileSize: opts.maxObjectSize, files: 1, fields: 100 }, throwFileSizeLimit: true });

  const allowedMethods = new Map<string, Method[]>();
  const allow = (method: Method, url: string): void => {
    const methods = allowedMethods.get(url) ?? [];
    if (!methods.includes(method)) allowedMethods.set(url, [...methods, method]);
  };
  const route = (method: Method, url: string, handler: (request: Req, reply: FastifyReply) => Promise<unknown>): void => {
    allow(method, url);
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

  // The raw-body upload, the GET and the delete are served before fastify (http-object-routes.ts);
  // a form upload comes here.
  for (const [url, method] of Object.entries(OBJECT_ROUTE_METHODS)) allow(method, url);
  route("POST", "/upload", async (request, reply) => {
    const form = request.isMultipart() ? () => request.file() : undefined;
    const view = await putObject(engine, opts.maxObjectSize, request.raw, request.query, request.id, form);
    return reply.code(201).send(uploadedJson(view));
  });

  route("HEAD", "/retrieve", async (request, reply) => {
    const { bucket, key } = objectTarget(request.raw, request.query);
    const view = await engine.head(bucket, key);
    const headers = Object.assign(objectHeaders(view, view.tier), nextTransitionHeaders(view.next));
    headers["content-length"] = String(view.size);
    return reply.headers(headers).send();
  });

  // The current version, or with versionId= any restorable one (a trashed version shows its purge).
  route("GET", "/stat", async (request) => {
    const { bucket, key } = objectTarget(request.raw, request.query);
    const versionId = param(request.query, "versionId");
    return objectJson(await (versionId === undefined ? engine.head(bucket, key) : engine.headVersion(bucket, key, versionId)));
  });

  route("GET", "/objects", async (request) => {
    const q = listQuery(request);
    const page = await engine.list(q.bucket, q.prefix, q.limit, q.cursor);
    return { bucket: q.bucket, prefix: q.prefix, objects: page.objects.map(listedObjectJson), nextCursor: page.nextCursor };
  });

  route("POST", "/undelete", async (request) => {
    const { bucket, key } = objectTarget(request.raw, request.query);
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
    const { statusCode, headers, body } = errorAnswer(error, request.raw, reply.raw);
    if (statusCode >= 500) request.log.error({ err: error, url: request.url }, "request failed");
    return reply.code(statusCode).headers(headers).type(JSON_TYPE).send(body);
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
      settleUnreadBody(req, res, { goAheadWithheld: true });
      sendJson(res, statusCode, body);
      return;
    }
    res.writeContinue();
    app.server.emit("request", req, res);
  });
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
    bucket: bucketOf(request.raw, request.query),
    prefix: param(query, "prefix") ?? "",
    limit: limitOf(query, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT),
    cursor: param(query, "cursor") ?? "",
  };
}
