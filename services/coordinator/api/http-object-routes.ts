// The facade's object routes that carry its load (an upload of a raw body, a GET, a delete) served
// on node:http before fastify sees the request. fastify's request and reply objects, hooks, router
// and serializer cost 20–35 µs a request on top of these same pieces (`bench/micro/facade-http.ts`,
// "lean" against "facade"), about a tenth of the busy coordinator's CPU per op under the overwrite
// row. Every other request (other routes, form uploads, wrong methods, unknown paths) goes to
// fastify, which answers them as before.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { MultipartFile } from "@fastify/multipart";
import { InvalidArgumentError, RangeNotSatisfiableError, TooLargeError } from "../../common/errors";
import type { Logger } from "../../common/logger";
import { nameOperation } from "../../common/metrics/http-metrics";
import { REQUEST_ID_HEADER } from "../../common/request-context";
import type { KeyStore } from "../../auth/keys";
import type { ObjectEngine, ObjectView } from "../objects/object-engine";
import { relayBody } from "./body-relay";
import { admitted, refuseUncheckableForm, signedUpload, UNAUTHENTICATED } from "./http-credentials";
import { errorAnswer } from "./http-errors";
import { settleUnreadBody } from "./unread-body";
import { parseQuery, objectTarget, type Query } from "./http-query";
import { contentRange, parseRange } from "./http-range";
import { httpRequestId } from "./request-ids";
import { declaredLength, metadataFromHeaders, multipartFileBody, requestBody } from "./http-upload";
import { deletedJson, objectHeaders, uploadedJson } from "./http-views";
import { gather, SMALL_BODY } from "./small-body";

export interface ObjectRoutesOptions {
  maxObjectSize: number;
  keys?: KeyStore;
  logger?: Logger;
}

/** What a route is given: the request, its parsed query and its id. */
interface RouteCall {
  raw: IncomingMessage;
  res: ServerResponse;
  query: Query;
  requestId: string;
}

const OCTET_STREAM = "application/octet-stream";
export const JSON_TYPE = "application/json; charset=utf-8";

/** The method each of these paths answers here (fastify's 405 names them too). */
export const OBJECT_ROUTE_METHODS = { "/upload": "POST", "/retrieve": "GET", "/delete": "DELETE" } as const;
type ObjectPath = keyof typeof OBJECT_ROUTE_METHODS;

/**
 * A request listener for the object routes: true when it took the request (and answers it), false
 * when fastify should. `closing()`: the facade is stopping, so requests get a 503 as fastify's do.
 */
export function objectRoutes(
  engine: ObjectEngine,
  opts: ObjectRoutesOptions,
  closing: () => boolean,
): (raw: IncomingMessage, res: ServerResponse) => boolean {
  const upload = async (c: RouteCall): Promise<void> => {
    const view = await putObject(engine, opts.maxObjectSize, c.raw, c.query, c.requestId);
    sendJson(c.res, 201, uploadedJson(view), undefined, c.requestId);
  };
  const retrieve = (c: RouteCall): Promise<void> => getObject(engine, c);
  const remove = async (c: RouteCall): Promise<void> => {
    const { bucket, key } = objectTarget(c.raw, c.query);
    sendJson(c.res, 200, deletedJson(await engine.delete(bucket, key, c.requestId)), undefined, c.requestId);
  };

  // By path: its method, its operation's metrics name (made once) and its handler.
  const handlers: Record<ObjectPath, (c: RouteCall) => Promise<void>> = { "/upload": upload, "/retrieve": retrieve, "/delete": remove };
  const routes = new Map(
    Object.entries(OBJECT_ROUTE_METHODS).map(([path, method]) => [
      path,
      { method, op: `${method} ${path}`, route: handlers[path as ObjectPath] },
    ]),
  );

  const serve = async (raw: IncomingMessage, res: ServerResponse, op: string, route: (c: RouteCall) => Promise<void>, query: Query) => {
    // The request id goes with each answer's own headers (sendJson, getObject), not set here first:
    // a header set before writeHead sends node:http down its merging path (each header copied into
    // its own table), ~1 % of the bytes the busy coordinator allocated under the overwrite row
    // (sampling heap profile with collected objects, 2026-12-07). Every answer below names it.
    const requestId = httpRequestId(raw);
    try {
      // In fastify's order: the request id first (a refused request answers with it), credentials,
      // then the route's name for the metrics (a refused request stays "other").
      if (!admitted(raw, opts.keys)) {
        settleUnreadBody(raw, res);
        sendJson(res, UNAUTHENTICATED.statusCode, UNAUTHENTICATED.body, UNAUTHENTICATED.headers, requestId);
        return;
      }
      nameOperation(res, "facade", op);
      await route({ raw, res, query, requestId });
    } catch (e) {
      sendError(raw, res, e, requestId, opts.logger);
    }
  };

  return (raw, res) => {
    const url = raw.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const found = routes.get(path);
    if (found === undefined || raw.method !== found.method || (found.route === upload && isForm(raw))) return false;
    if (closing()) {
      res.shouldKeepAlive = false;
      settleUnreadBody(raw, res);
      sendJson(res, 503, { error: "Unavailable", message: "this coordinator is stopping: retry, another will answer" });
      return true;
    }
    void serve(raw, res, found.op, found.route, parseQuery(q < 0 ? "" : url.slice(q + 1)));
    return true;
  };
}

/** A form upload (multipart) is parsed by @fastify/multipart: fastify's route takes it. */
function isForm(raw: IncomingMessage): boolean {
  const type = raw.headers["content-type"];
  return type !== undefined && /multipart/i.test(type);
}

/**
 * Stores an upload: the raw body, or with `form` the file part of a multipart form (fastify's route
 * for forms passes its parser's). Both paths of the facade store through this.
 */
export async function putObject(
  engine: ObjectEngine,
  maxObjectSize: number,
  raw: IncomingMessage,
  query: Query,
  requestId: string,
  form?: () => Promise<MultipartFile | undefined>,
): Promise<ObjectView> {
  const { bucket, key } = objectTarget(raw, query);
  const contentLength = declaredLength(raw.headers);
  if (contentLength !== undefined && contentLength > maxObjectSize) {
    throw new TooLargeError(`object of ${contentLength} bytes exceeds the limit of ${maxObjectSize}`);
  }
  const metadata = metadataFromHeaders(raw.headers);
  if (form === undefined) {
    const { body, expected } = signedUpload(raw, requestBody(raw));
    return engine.put({
      bucket,
      key,
      metadata,
      contentLength,
      contentType: raw.headers["content-type"] || OCTET_STREAM,
      body,
      ...expected,
      requestId,
    });
  }
  refuseUncheckableForm(raw);
  const part = await form();
  if (!part) throw new InvalidArgumentError('multipart upload without a file: send it in a field named "file"');
  if (part.fieldname !== "file") throw new InvalidArgumentError(`expected the file in a field named "file", got "${part.fieldname}"`);
  return engine.put({
    bucket,
    key,
    metadata,
    contentType: part.mimetype || OCTET_STREAM,
    body: multipartFileBody(part.file, maxObjectSize),
    requestId,
  });
}

async function getObject(engine: ObjectEngine, c: RouteCall): Promise<void> {
  const { bucket, key } = objectTarget(c.raw, c.query);
  const range = parseRange(c.raw.headers.range);
  const got = await engine.get(bucket, key, range, c.requestId);
  if (range && got.length === 0) {
    // Only an empty object resolves to no bytes, and HTTP has no range of it.
    await got.body[Symbol.asyncIterator]().return?.();
    throw new RangeNotSatisfiableError(`an empty object has no byte range`, 0);
  }
  const headers: OutgoingHttpHeaders = objectHeaders(got.object, got.servedFrom);
  headers[REQUEST_ID_HEADER] = c.requestId;
  headers["content-length"] = String(got.length);
  if (range) headers["content-range"] = contentRange(got.offset, got.length, got.object.size);
  const status = range ? 206 : 200;
  if (got.length <= SMALL_BODY) {
    const bytes = await gather(got.body);
    c.res.writeHead(status, headers).end(bytes);
    return;
  }
  // relayBody hands each chunk back once written, and destroys the response if the body fails.
  c.res.writeHead(status, headers);
  await relayBody(c.res, got.body);
}

/**
 * A JSON answer written whole: `headers` first, then the status, the request id (when given), type
 * and length.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Readonly<Record<string, string>>,
  requestId?: string,
): void {
  const text = JSON.stringify(body);
  if (headers) for (const name in headers) res.setHeader(name, headers[name]);
  const length = Buffer.byteLength(text);
  res
    .writeHead(
      status,
      requestId === undefined
        ? { "content-type": JSON_TYPE, "content-length": length }
        : { [REQUEST_ID_HEADER]: requestId, "content-type": JSON_TYPE, "content-length": length },
    )
    .end(text);
}

function sendError(raw: IncomingMessage, res: ServerResponse, e: unknown, requestId: string, logger: Logger | undefined): void {
  if (res.headersSent) {
    // A body that failed after its headers went (relayBody has destroyed the response already).
    res.destroy(e as Error);
    return;
  }
  const { statusCode, headers, body } = errorAnswer(e, raw, res);
  if (statusCode >= 500) logger?.error({ err: e, url: raw.url, requestId }, "request failed");
  sendJson(res, statusCode, body, headers, requestId);
}
