import * as http from "node:http";
import { InvalidArgumentError } from "../../common/errors";
import { REQUEST_ID_HEADER } from "../../common/request-context";
import type { Logger } from "../../common/logger";
import type { BlobBackend } from "../blob-backend";
import { isValidBlobId } from "../blob-info";
import { BLOB_INFO_HEADER, BLOB_PATH, CODE_FIELD, encodeBlobInfo, errorFields, MESSAGE_FIELD, OK } from "../blob-plane";
import { CLUSTER_SECRET_HEADER, secretRefusal } from "../cluster-secret";
import { NODE_ID_HEADER, wrongNodeRefusal } from "../node-identity";
import { OpLog } from "./op-log";
import { opMetrics, type OpMetrics } from "../../common/metrics/request-metrics";
import { toWire } from "../wire-errors";

export interface BlobHttpOptions {
  id: string;
  clusterSecret?: string;
  log: Logger;
}

/**
 * Idle keep-alive connections are kept this long: longer than the client's own idle socket timeout
 * (client/blob-http-read.ts), so the client is the side that closes them and never sends a read on
 * a connection the node is closing.
 */
export const BLOB_HTTP_KEEP_ALIVE_MS = 65_000;

/**
 * The node's blob plane (rpc/blob-plane.ts): GET of a blob range as one HTTP/1.1 response, the
 * node's verdict in its trailer. Never listens itself: server/shared-port.ts hands it connections.
 */
export function createBlobHttpServer(backend: BlobBackend, opts: BlobHttpOptions): http.Server {
  const ops = new OpLog(opts.log);
  const metrics = opMetrics("node", "ReadBlob");
  const server = http.createServer({ keepAliveTimeout: BLOB_HTTP_KEEP_ALIVE_MS }, (req, res) => {
    const requestId = typeof req.headers[REQUEST_ID_HEADER] === "string" ? req.headers[REQUEST_ID_HEADER] : "";
    const done = ops.start("ReadBlob", blobIdOf(req), requestId);
    const started = performance.now();
    // Failures reach the coordinator (and the debug log), as ReadBlob's did; the node's metrics
    // count these reads as ReadBlob calls, their bytes as sent.
    serveRead(req, res, backend, opts, metrics).then(
      () => {
        done();
        metrics.record((performance.now() - started) / 1000);
      },
      (e) => {
        done(e);
        metrics.record((performance.now() - started) / 1000, toWire(e).code);
      },
    );
  });
  // No inactivity timeout on a request: a coordinator may be slow to read while its HTTP client
  // is (the ReadBlob stream had none either). A peer that vanished is found by TCP keepalive.
  server.timeout = 0;
  server.requestTimeout = 0;
  server.on("connection", (socket: import("node:net").Socket) => socket.setKeepAlive(true, 10_000));
  return server;
}

/** The blob a request names ("" for none); an id that is not valid is refused after. */
function blobIdOf(req: http.IncomingMessage): string {
  const path = (req.url ?? "").split("?", 1)[0];
  if (!path.startsWith(BLOB_PATH)) return "";
  try {
    return decodeURIComponent(path.slice(BLOB_PATH.length));
  } catch {
    return "";
  }
}

/** Refusals and errors before the first byte: a status, the code and message in headers; throws `e`. */
function refuse(res: http.ServerResponse, status: number, e: unknown): never {
  if (!res.headersSent) {
    res.writeHead(status, { ...errorFields(e), "content-length": 0 });
    res.end();
  }
  throw e;
}

async function serveRead(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  backend: BlobBackend,
  opts: BlobHttpOptions,
  metrics: OpMetrics,
): Promise<void> {
  const refusal = opts.clusterSecret ? secretRefusal(opts.clusterSecret, req.headers[CLUSTER_SECRET_HEADER]) : undefined;
  if (refusal) return refuse(res, 401, refusal);
  const wrong = wrongNodeRefusal(opts.id, req.headers[NODE_ID_HEADER]);
  if (wrong) return refuse(res, 421, wrong);
  const url = new URL(req.url ?? "/", "http://node");
  const blobId = blobIdOf(req);
  const offset = Number(url.searchParams.get("offset") ?? 0);
  const lengthParam = url.searchParams.get("length");
  const length = lengthParam === null ? undefined : Number(lengthParam);
  if (
    req.method !== "GET" ||
    !isValidBlobId(blobId) ||
    !Number.isSafeInteger(offset) ||
    (length !== undefined && !Number.isSafeInteger(length))
  )
    return refuse(res, 400, new InvalidArgumentError(`bad blob read ${req.method} ${req.url}`));

  let reader;
  try {
    reader = await backend.read(blobId, offset, length);
  } catch (e) {
    refuse(res, 500, e);
  }
  const it = reader.chunks[Symbol.asyncIterator]();
  try {
    res.writeHead(200, { [BLOB_INFO_HEADER]: encodeBlobInfo(reader.meta), trailer: `${CODE_FIELD}, ${MESSAGE_FIELD}` });
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      metrics.sent.inc(r.value.length);
      if (!res.write(r.value) && !(await drained(res))) return;
    }
    res.addTrailers({ [CODE_FIELD]: OK });
  } catch (e) {
    // After the headers the status is sent: the trailer carries the error (an IntegrityError found
    // at the end of the read, after every byte went out, must reach the coordinator as one).
    if (!res.destroyed) res.addTrailers(errorFields(e));
    throw e;
  } finally {
    if (!res.destroyed) res.end();
    // Stops the backend's reader (and closes its file) if we left early.
    await it.return?.();
  }
}

/**
 * Waits for room in the socket's buffer; false if the coordinator went away. Plain listeners: an
 * AbortController per wait (once() with a signal) made a DOMException per 256 KiB chunk, ~6 % of
 * the node's CPU on a 64 MiB read (--cpu-prof, 2026-12-01).
 */
function drained(res: http.ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve(!res.destroyed);
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
