import * as http from "node:http";
import { freeBodyPiece } from "../../common/body-pieces";
import { AbortedError, InvalidArgumentError } from "../../common/errors";
import { REQUEST_ID_HEADER } from "../../common/request-context";
import type { Logger } from "../../common/logger";
import { drained } from "../../common/drained";
import { Semaphore } from "../../common/semaphore";
import type { BlobBackend, BlobMeta, BlobWriter } from "../blob-backend";
import { BodyQueue } from "../body-queue";
import { isValidBlobId } from "../blob-info";
import {
  ATTRIBUTES_HEADER,
  BLOB_INFO_HEADER,
  BLOB_PATH,
  BLOCK_CRC_CHECK,
  BLOCK_CRC_FIELD,
  CHECK_HEADER,
  CODE_FIELD,
  decodeAttributes,
  decodeBlockCrc,
  encodeBlobInfo,
  encodeBlockCrc,
  errorFields,
  MESSAGE_FIELD,
  OK,
  SHA256_FIELD,
  SIZE_FIELD,
} from "../blob-plane";
import { CLUSTER_SECRET_HEADER, secretRefusal } from "../cluster-secret";
import { NODE_ID_HEADER, wrongNodeRefusal } from "../node-identity";
import { OpLog } from "./op-log";
import { opMetrics, type OpMetrics } from "../../common/metrics/request-metrics";
import { toWire } from "../wire-errors";

export interface BlobHttpOptions {
  id: string;
  clusterSecret?: string;
  log: Logger;
  /** A request whose connection moves no byte either way this long is cut (default BLOB_HTTP_IDLE_MS). */
  idleTimeoutMs?: number;
  /** Chunked GETs streaming at once (default PLANE_READS); the rest wait in arrival order. */
  planeReads?: number;
  /** How long a GET waits for a slot before it streams anyway (default PLANE_READ_WAIT_MS). */
  planeReadWaitMs?: number;
}

/**
 * A request whose connection moves no byte either way for this long is cut, and a PUT's temp file
 * removed: a coordinator stopped (SIGSTOP) or cut off with its socket still open held both for
 * good, since its kernel still answers TCP keepalive. Longer than the facade's own idle limit
 * (MINIS3_HTTP_IDLE_TIMEOUT, 2 min by default), behind which a coordinator may wait for its client.
 */
export const BLOB_HTTP_IDLE_MS = 5 * 60_000;

/**
 * Idle keep-alive connections are kept this long: longer than the client's own idle socket timeout
 * (client/blob-http-client.ts), so the client is the side that closes them and never sends a read on
 * a connection the node is closing.
 */
export const BLOB_HTTP_KEEP_ALIVE_MS = 65_000;

/**
 * Body bytes a PUT holds queued in the node before its socket pauses (the disk's pace is the
 * backpressure). With the GATHER_BYTES being written, a PUT holds ~2 MiB of body at most.
 */
const PUT_BUFFER_BYTES = 1024 * 1024;
/**
 * Socket reads gathered into one disk write at most, for a writer that takes them as they are
 * (BlobWriter.writev): up to everything queued. 1 MiB against 256 KiB, plane PUT micro (64 MiB x 8,
 * three alternated runs, load 4.4-5.9, 2026-12-03): node 2.28-2.73 -> 1.90-2.26 ms/MiB (medians),
 * fewer thread-pool trips and awaits per MiB.
 */
const GATHER_BYTES = 1024 * 1024;
/**
 * A GET's file reads (and socket writes): 1 MiB, not the node's chunk size (MINIS3_CHUNK_SIZE, 256
 * KiB, which ReadBlob's messages keep). A quarter of the thread-pool trips, awaits and chunked
 * writes per MiB: `blob-get` micro (64 MiB x 8, three alternated pairs, load 4.9-5.2, 2026-12-03)
 * node 1.15-1.35 -> 0.80-1.04 ms per MiB read, the reading side 0.75-0.82 -> 0.49-0.80. Memory: up to
 * three chunks per read (one read ahead, one being sent, one in the socket), 3 MiB instead of 768 KiB.
 */
export const PLANE_READ_BYTES = 1024 * 1024;
/**
 * A node's GETs of more than one chunk streaming at once; the rest wait, in arrival order, before
 * their first file read (their file open, their headers not yet sent). Each holds up to three
 * chunks (above), and the chunks of those that ended wait for V8 to collect them: unbounded, a
 * node's RSS grew ~2.3 MiB per GET at once, 40 GETs of 64 MiB took it from ~60 to 151-154 MiB and
 * 100 to 241 (the floor is 250 MB); with 8 streaming, 103-112 and 122, with 16, 136-137 for 40. The
 * 40 together as fast with 8 (1.43-1.58 GB/s against 1.39-1.51; `bench/micro/blob-get-many.ts`,
 * 2026-12-04, 2 cores shared): 8 keep the node's cores busy. A GET of one chunk at most (every
 * segment blob) never waits.
 */
export const PLANE_READS = 8;
/**
 * A GET waits this long for a slot at most, then streams over the cap: a reader slower than the node
 * (a coordinator relaying to a slow client) holds its slot for its whole read, and a GET queued
 * behind such readers past the coordinator's 10 s for a read's first answer would fail there (40
 * GETs of 64 MiB taken at 20 MB/s each, 8 streaming, no limit: 8 failed). Half that 10 s leaves room
 * for the file open and the first chunk. With it none failed, in 8.7 s against 3.8-4.0 unbounded,
 * the node at 139 MiB against 150-151: with readers that slow, memory is about what it was uncapped.
 */
export const PLANE_READ_WAIT_MS = 5_000;
/** What a join (a writer without writev) takes at most: the replica writer's chunk. */
const JOIN_BYTES = 256 * 1024;
/** A socket read at most (node:net's), what a join may take past JOIN_BYTES. */
const READ_BYTES = 64 * 1024;

/**
 * The node's blob plane (rpc/blob-plane.ts): GET of a blob range as one HTTP/1.1 response, the
 * node's verdict in its trailer; PUT of a whole blob, the node's commit in the answer. Never listens
 * itself: server/shared-port.ts hands it connections.
 */
export function createBlobHttpServer(backend: BlobBackend, opts: BlobHttpOptions): http.Server {
  const ops = new OpLog(opts.log);
  const reads = opMetrics("node", "ReadBlob");
  const writes = opMetrics("node", "WriteBlob");
  const planeReads = new Semaphore(opts.planeReads ?? PLANE_READS);
  const waitMs = opts.planeReadWaitMs ?? PLANE_READ_WAIT_MS;
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const put = req.method === "PUT";
    const op = put ? "WriteBlob" : "ReadBlob";
    const metrics = put ? writes : reads;
    const requestId = typeof req.headers[REQUEST_ID_HEADER] === "string" ? req.headers[REQUEST_ID_HEADER] : "";
    const done = ops.start(op, blobIdOf(req), requestId);
    const started = performance.now();
    // Failures reach the coordinator (and the debug log), as ReadBlob's and WriteBlob's did; the
    // node's metrics count these as ReadBlob and WriteBlob calls, their bytes as sent and received.
    (put ? serveWrite(req, res, backend, opts, metrics) : serveRead(req, res, backend, opts, metrics, planeReads, waitMs)).then(
      () => {
        done();
        metrics.record((performance.now() - started) / 1000);
      },
      (e) => {
        done(e);
        metrics.record((performance.now() - started) / 1000, toWire(e).code);
        if (put && !(e instanceof AbortedError)) opts.log.warn({ err: e, ...(requestId ? { requestId } : {}) }, "WriteBlob failed");
      },
    );
  };
  const server = http.createServer({ keepAliveTimeout: BLOB_HTTP_KEEP_ALIVE_MS }, handle);
  // A PUT asks for "100 Continue" before it sends its body: it is answered only once the request
  // passed the checks, so a sender that is refused has sent no byte of the body.
  server.on("checkContinue", handle);
  // No limit on a whole request (a large blob over a slow link takes as long as it takes), only on
  // silence: a coordinator may be slow to read while its HTTP client is, but not for minutes. A
  // peer that vanished is also found by TCP keepalive.
  server.timeout = opts.idleTimeoutMs ?? BLOB_HTTP_IDLE_MS;
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

/**
 * Refusals and errors before the answer: a status, the code and message in headers; throws `e`. A
 * PUT whose body was not read to its end closes the connection rather than read the rest.
 */
function refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, e: unknown): never {
  if (!res.headersSent) {
    const close = req.method === "PUT" && !req.complete;
    res.writeHead(status, { ...errorFields(e), "content-length": 0, ...(close ? { connection: "close" } : {}) });
    res.end();
  }
  throw e;
}

/** The checks every request passes before the node reads or accepts a byte, as on gRPC: the blob it names. */
function admitted(req: http.IncomingMessage, res: http.ServerResponse, opts: BlobHttpOptions, method: string): string {
  const refusal = opts.clusterSecret ? secretRefusal(opts.clusterSecret, req.headers[CLUSTER_SECRET_HEADER]) : undefined;
  if (refusal) return refuse(req, res, 401, refusal);
  const wrong = wrongNodeRefusal(opts.id, req.headers[NODE_ID_HEADER]);
  if (wrong) return refuse(req, res, 421, wrong);
  const blobId = blobIdOf(req);
  if (req.method !== method || !isValidBlobId(blobId))
    return refuse(req, res, 400, new InvalidArgumentError(`bad blob request ${req.method} ${req.url}`));
  return blobId;
}

/**
 * PUT: the body into a BlobWriter as it comes (awaiting each write is the backpressure), the
 * trailer's size and sha256 (or, with the CHECK_HEADER, the fold of the block crc32s) checked by the
 * commit (fsync and rename), then the answer. Anything short of that, a cut body included, aborts
 * the writer: nothing is committed.
 */
async function serveWrite(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  backend: BlobBackend,
  opts: BlobHttpOptions,
  metrics: OpMetrics,
): Promise<void> {
  const blobId = admitted(req, res, opts, "PUT");
  const blockCrc = req.headers[CHECK_HEADER] === BLOCK_CRC_CHECK;
  let writer: BlobWriter;
  try {
    writer = await backend.beginWrite(blobId, decodeAttributes(req.headers[ATTRIBUTES_HEADER]), blockCrc ? "blockCrc" : "sha256");
  } catch (e) {
    return refuse(req, res, 500, e);
  }
  let meta: BlobMeta;
  try {
    if (req.headers.expect?.toLowerCase() === "100-continue") res.writeContinue();
    const body = new BodyQueue(req, PUT_BUFFER_BYTES);
    const joined = new JoinBuffer();
    for (;;) {
      let chunk: Buffer | undefined;
      try {
        chunk = body.take() ?? (await body.next());
      } catch {
        throw new AbortedError(`the upload of ${blobId} was cut before its end`);
      }
      if (!chunk) break;
      if (body.queued === 0) {
        metrics.received.inc(chunk.length);
        await writer.write(chunk);
        freeBodyPiece(chunk);
        continue;
      }
      const { parts, bytes } = gather(chunk, body, writer.writev ? GATHER_BYTES : JOIN_BYTES);
      metrics.received.inc(bytes);
      await (writer.writev ? writer.writev(parts) : writer.write(joined.join(parts, bytes)));
      // Written (a BlobWriter keeps no reference once its write resolved): their memory goes now.
      for (const p of parts) freeBodyPiece(p);
    }
    const size = Number(req.trailers[SIZE_FIELD]);
    const sha256 = req.trailers[SHA256_FIELD];
    if (!Number.isSafeInteger(size) || typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256))
      throw new InvalidArgumentError(`the upload of ${blobId} ended without its size and sha256`);
    const crc = blockCrc ? decodeBlockCrc(req.trailers[BLOCK_CRC_FIELD]) : undefined;
    if (blockCrc && crc === undefined)
      throw new InvalidArgumentError(`the upload of ${blobId} ended without the block crc32 its header announced`);
    meta = await writer.commit(size, Buffer.from(sha256, "hex"), crc);
  } catch (e) {
    await writer.abort().catch(() => undefined);
    if (e instanceof AbortedError) throw e;
    return refuse(req, res, e instanceof InvalidArgumentError ? 400 : 500, e);
  }
  res.writeHead(200, { [BLOB_INFO_HEADER]: encodeBlobInfo(meta), "content-length": 0 });
  res.end();
}

/**
 * The socket reads already here, up to `limit` bytes: one disk write for several 64 KiB reads,
 * against a thread-pool trip per read. Written as they are (BlobWriter.writev, one pwritev) where
 * the writer can: joining them into the request's JoinBuffer was a copy of every byte, ~4 % of a
 * node's CPU on a large PUT (perf, 2026-12-03). Else joined (a copy).
 */
function gather(first: Buffer, body: BodyQueue, limit: number): { parts: Buffer[]; bytes: number } {
  const parts = [first];
  let bytes = first.length;
  while (bytes < limit && body.queued > 0) {
    const next = body.take()!;
    parts.push(next);
    bytes += next.length;
  }
  return { parts, bytes };
}

/**
 * One PUT's joining buffer. A fresh Buffer per join (Buffer.concat) was external memory that V8
 * counts toward its next mark-compact: a node did one per ~10-20 MiB received (--trace-gc,
 * 2026-12-02), ~15 % of its CPU on a large upload. Memory: as before, one join per request.
 */
export class JoinBuffer {
  private buf?: Buffer;

  /** `parts` copied into this buffer (valid until the next join). */
  join(parts: readonly Buffer[], bytes: number): Buffer {
    if (!this.buf || this.buf.length < bytes) this.buf = Buffer.allocUnsafeSlow(Math.max(bytes, JOIN_BYTES + READ_BYTES));
    let at = 0;
    for (const p of parts) at += p.copy(this.buf, at);
    return this.buf.subarray(0, bytes);
  }
}

async function serveRead(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  backend: BlobBackend,
  opts: BlobHttpOptions,
  metrics: OpMetrics,
  planeReads: Semaphore,
  waitMs: number,
): Promise<void> {
  const blobId = admitted(req, res, opts, "GET");
  const url = new URL(req.url ?? "/", "http://node");
  const offset = Number(url.searchParams.get("offset") ?? 0);
  const lengthParam = url.searchParams.get("length");
  const length = lengthParam === null ? undefined : Number(lengthParam);
  if (!Number.isSafeInteger(offset) || (length !== undefined && !Number.isSafeInteger(length)))
    return refuse(req, res, 400, new InvalidArgumentError(`bad blob read ${req.method} ${req.url}`));

  let reader;
  try {
    reader = await backend.read(blobId, offset, length, PLANE_READ_BYTES);
  } catch (e) {
    refuse(req, res, 500, e);
  }
  const it = reader.chunks[Symbol.asyncIterator]();
  // Taken once the reader is open (a missing blob is answered at once) and before its first chunk
  // is read; freed below, whatever the end. No chunk read yet: a GET left while waiting closes its file.
  const got = reader.length > PLANE_READ_BYTES ? await slotFor(planeReads, res, waitMs) : "none";
  if (got === "gone") {
    await it.return?.();
    throw new AbortedError(`the read of ${blobId} was left while it waited for a slot`);
  }
  const slot = got === "slot" ? planeReads : undefined;
  const recycle = reader.recycle?.bind(reader);
  try {
    res.writeHead(200, {
      [BLOB_INFO_HEADER]: encodeBlobInfo(reader.meta),
      ...(reader.blockCrc === undefined ? {} : { [BLOCK_CRC_FIELD]: encodeBlockCrc(reader.blockCrc) }),
      trailer: `${CODE_FIELD}, ${MESSAGE_FIELD}`,
    });
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      const chunk = r.value;
      metrics.sent.inc(chunk.length);
      // The chunk may be refilled only once the socket is done with it: in the write's callback
      // (with no error), never on write()'s return, when it may still be queued in the stream.
      const written = recycle ? res.write(chunk, (e) => e || recycle(chunk)) : res.write(chunk);
      if (!written && !(await drained(res))) return;
    }
    res.addTrailers({ [CODE_FIELD]: OK });
  } catch (e) {
    // After the headers the status is sent: the trailer carries the error (an IntegrityError found
    // at the end of the read, after every byte went out, must reach the coordinator as one).
    if (!res.destroyed) res.addTrailers(errorFields(e));
    throw e;
  } finally {
    if (!res.destroyed) res.end();
    try {
      // Stops the backend's reader (and closes its file) if we left early.
      await it.return?.();
    } finally {
      // Every chunk written was drained before the next read: nothing of this read is left queued.
      slot?.release();
    }
  }
}

/**
 * A slot among the node's chunked GETs, waiting for one if need be: "none" once it waited `waitMs`
 * (it streams without one), "gone" if the client went away meanwhile (its place in the queue given
 * up, nothing taken).
 */
async function slotFor(reads: Semaphore, res: http.ServerResponse, waitMs: number): Promise<"slot" | "none" | "gone"> {
  if (reads.tryAcquire()) return "slot";
  if (res.destroyed) return "gone";
  const quit = new AbortController();
  const leave = () => quit.abort();
  res.on("close", leave);
  const timer = setTimeout(leave, waitMs);
  try {
    await reads.acquire(quit.signal);
    return "slot";
  } catch {
    return res.destroyed ? "gone" : "none";
  } finally {
    clearTimeout(timer);
    res.off("close", leave);
  }
}
