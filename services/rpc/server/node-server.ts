import * as grpc from "@grpc/grpc-js";
import { once } from "node:events";
import { AbortedError, InvalidArgumentError, NotFoundError } from "../../common/errors";
import {
  type NodeServiceServer,
  type ReadBlobRequest,
  type ReadBlobResponse,
  type BlobInfo,
  type VerifyBlobResponse,
  VerifyBlobResponse_Verdict as Verdict,
  type WriteBlobRequest,
} from "../gen/minis3/v1/node";
import { SERVER_OPTIONS } from "../../common/grpc";
import type { Logger } from "../../common/logger";
import { measuredService, measuringCalls } from "../../common/metrics/grpc-metrics";
import type { BlobBackend, BlobMeta, BlobVerification, BlobWriter } from "../blob-backend";
import type { RequestId } from "../../common/request-context";
import { isValidBlobId, toBlobInfo } from "../blob-info";
import { requiringSecret } from "../cluster-secret";
import { addHealthService, HEALTH_PATH_PREFIX } from "../health";
import { refusingOtherNodes } from "../node-identity";
import { OpLog } from "./op-log";
import { requestIdOf } from "../request-ids";
import { composeBlob } from "./compose-blob";
import { PeerReaders, pullBlob } from "./pull-blob";
import { serveExchange } from "./exchange-server";
import { createBlobHttpServer } from "./blob-http-server";
import { listenShared } from "./shared-port";
import { FastNodeService } from "../wire/node-service-fast";
import { toNodeCallStatus } from "../wire-errors";
import { answerDelete, fencedBackend } from "./put-fence";

export interface NodeServiceOptions {
  id: string;
  /** Largest chunk sent on a ReadBlob stream. */
  chunkSize: number;
  log: Logger;
  /** Largest blob an Exchange get returns inline (bigger ones: ReadBlob). */
  maxExchangeGetBytes?: number;
  /** Every call must carry it (rpc/cluster-secret.ts); "" or unset: calls are served without (dev). */
  clusterSecret?: string;
  /** What else the node needs to serve, for the gRPC health service (the backup node: its MariaDB). */
  ready?: () => Promise<boolean>;
  /** How PullBlob reads other nodes' copies (startNodeServer's, closed with it; else made on first use). */
  peers?: PeerReaders;
}

const DEFAULT_MAX_EXCHANGE_GET = 4 * 1024 * 1024;

/**
 * Implements minis3.v1.NodeService on any BlobBackend. Its deletes are fenced (server/put-fence.ts):
 * every put must go through the same FencedBackend, so pass one when something else writes too.
 */
export function createNodeService(given: BlobBackend, opts: NodeServiceOptions): NodeServiceServer {
  const backend = fencedBackend(given);
  const { log, chunkSize } = opts;
  const maxGet = opts.maxExchangeGetBytes ?? DEFAULT_MAX_EXCHANGE_GET;
  const ops = new OpLog(log);
  let peers = opts.peers;

  /**
   * A unary call that makes a blob: `make` runs (aborted if the caller leaves first), its op is
   * logged, and the caller gets the new blob's info or the error; a failure is a warning.
   */
  const answerWithBlob = <Req>(
    call: grpc.ServerUnaryCall<Req, BlobInfo>,
    callback: grpc.sendUnaryData<BlobInfo>,
    op: string,
    about: { blobId: string } & Record<string, unknown>,
    make: (signal: AbortSignal, requestId: RequestId) => Promise<BlobMeta>,
  ): void => {
    const requestId = requestIdOf(call.metadata);
    const done = ops.start(op, about.blobId, requestId);
    const gone = whileUnanswered(call);
    make(gone.signal, requestId).then(
      (meta) => {
        gone.answered();
        done();
        callback(null, toBlobInfo(meta));
      },
      (e) => {
        gone.answered();
        done(e);
        if (!(e instanceof AbortedError)) log.warn({ err: e, ...about }, `${op} failed`);
        if (!call.cancelled) callback(toNodeCallStatus(e));
      },
    );
  };

  return {
    getInfo(_call, callback) {
      backend.stats().then(
        (s) =>
          callback(null, {
            id: opts.id,
            kind: backend.kind,
            blobCount: s.blobCount,
            usedBytes: s.usedBytes,
            freeBytes: s.freeBytes ?? undefined,
            unreadableRecords: s.unreadableRecords ?? 0,
          }),
        (e) => callback(toNodeCallStatus(e)),
      );
    },

    writeBlob(call, callback) {
      const requestId = requestIdOf(call.metadata);
      const done = ops.start("WriteBlob", "", requestId);
      receiveBlob(call, backend).then(
        (info) => {
          done();
          callback(null, { blob: info });
        },
        (e) => {
          done(e);
          if (!(e instanceof AbortedError)) log.warn({ err: e, ...(requestId ? { requestId } : {}) }, "WriteBlob failed");
          if (!call.cancelled) callback(toNodeCallStatus(e));
        },
      );
    },

    readBlob(call) {
      const done = ops.start("ReadBlob", call.request.blobId, requestIdOf(call.metadata));
      sendBlob(call, backend, chunkSize).then(done, (e) => {
        done(e);
        if (call.cancelled || call.destroyed) return;
        call.emit("error", toNodeCallStatus(e));
      });
    },

    deleteBlob(call, callback) {
      if (!isValidBlobId(call.request.blobId)) return callback(toNodeCallStatus(new InvalidArgumentError("bad blob id")));
      answerDelete(backend, call.request).then(
        (answer) => callback(null, { ...answer, ...backend.position }),
        (e) => callback(toNodeCallStatus(e)),
      );
    },

    statBlob(call, callback) {
      const { blobId } = call.request;
      if (!isValidBlobId(blobId)) return callback(toNodeCallStatus(new InvalidArgumentError("bad blob id")));
      backend.stat(blobId).then(
        (meta) => (meta ? callback(null, toBlobInfo(meta)) : callback(toNodeCallStatus(new NotFoundError(`blob ${blobId} not found`)))),
        (e) => callback(toNodeCallStatus(e)),
      );
    },

    verifyBlob(call, callback) {
      const { blobId } = call.request;
      if (!isValidBlobId(blobId)) return callback(toNodeCallStatus(new InvalidArgumentError("bad blob id")));
      const gone = whileUnanswered(call);
      backend.verify(blobId, gone.signal).then(
        (v) => {
          gone.answered();
          callback(null, toVerifyResponse(v));
        },
        (e) => {
          gone.answered();
          if (!call.cancelled) callback(toNodeCallStatus(e));
        },
      );
    },

    composeBlob(call, callback) {
      const { blobId, attributes, parts } = call.request;
      answerWithBlob(call, callback, "ComposeBlob", { blobId, parts: parts.length }, (signal) =>
        composeBlob(backend, blobId, attributes, parts, signal),
      );
    },

    pullBlob(call, callback) {
      const { blobId, attributes, size, sha256, sources } = call.request;
      peers ??= new PeerReaders(opts.clusterSecret);
      const reader = peers.reader;
      answerWithBlob(call, callback, "PullBlob", { blobId, sources: sources.map((s) => s.nodeId) }, (signal, requestId) =>
        pullBlob(backend, { blobId, attributes, size, sha256, sources }, reader, requestId, signal),
      );
    },

    listBlobs(call) {
      (async () => {
        for await (const meta of backend.list()) {
          if (!(await writeWithBackpressure(call, toBlobInfo(meta)))) return;
        }
        call.end();
      })().catch((e) => {
        if (!call.cancelled && !call.destroyed) call.emit("error", toNodeCallStatus(e));
      });
    },

    exchange(call) {
      serveExchange(call, backend, maxGet, log, ops);
    },
  };
}

/**
 * A signal aborted when the caller goes away (past its deadline) before it was answered: a long read
 * or copy then stops. grpc-js also reports "cancelled" when a call that has been answered closes:
 * aborting then cost ~0.4 ms (a DOMException with its stack) for nothing, so `answered()` ends it.
 */
function whileUnanswered(call: grpc.ServerUnaryCall<unknown, unknown>): { signal: AbortSignal; answered(): void } {
  const ac = new AbortController();
  let answered = false;
  call.on("cancelled", () => answered || ac.abort());
  return { signal: ac.signal, answered: () => void (answered = true) };
}

const VERDICT: Record<BlobVerification["verdict"], Verdict> = {
  ok: Verdict.VERDICT_OK,
  corrupt: Verdict.VERDICT_CORRUPT,
  missing: Verdict.VERDICT_MISSING,
};

function toVerifyResponse(v: BlobVerification): VerifyBlobResponse {
  return { verdict: VERDICT[v.verdict], blob: v.meta && toBlobInfo(v.meta), problem: v.problem ?? "" };
}

/** WriteBlob: header, chunks, trailer. Awaiting each backend write is the backpressure. */
async function receiveBlob(call: grpc.ServerReadableStream<WriteBlobRequest, unknown>, backend: BlobBackend): Promise<BlobInfo> {
  let writer: BlobWriter | undefined;
  let committed: BlobInfo | undefined;
  // A cancelled call neither ends nor fails its stream of messages: without this the loop below
  // waited forever, its temp file open and on disk (found by node-end-to-end.test.ts).
  const cancelled = () => call.destroy(new AbortedError("upload cancelled"));
  call.once("cancelled", cancelled);
  try {
    if (call.cancelled) cancelled(); // before this handler ran
    for await (const msg of call) {
      const part = (msg as WriteBlobRequest).part;
      if (committed) throw new InvalidArgumentError("message after the trailer");
      if (!part) throw new InvalidArgumentError("empty WriteBlob message");
      if (part.$case === "header") {
        if (writer) throw new InvalidArgumentError("second header");
        if (!isValidBlobId(part.value.blobId)) throw new InvalidArgumentError(`bad blob id "${part.value.blobId}"`);
        writer = await backend.beginWrite(part.value.blobId, part.value.attributes);
      } else if (!writer) {
        throw new InvalidArgumentError("WriteBlob must start with a header");
      } else if (part.$case === "chunk") {
        await writer.write(part.value);
      } else {
        committed = toBlobInfo(await writer.commit(part.value.size, part.value.sha256));
      }
    }
  } catch (e) {
    if (writer && !committed) await writer.abort().catch(() => undefined);
    // A cancelled call surfaces as a premature close of the stream.
    if (call.cancelled || (e as NodeJS.ErrnoException)?.code === "ERR_STREAM_PREMATURE_CLOSE") throw new AbortedError("upload cancelled");
    throw e;
  } finally {
    call.off("cancelled", cancelled);
  }
  if (!committed) {
    if (writer) await writer.abort().catch(() => undefined);
    throw new AbortedError("upload ended without a trailer");
  }
  return committed;
}

/** ReadBlob: the blob's info first, then chunks of at most chunkSize; waits for "drain" when told to. */
async function sendBlob(
  call: grpc.ServerWritableStream<ReadBlobRequest, ReadBlobResponse>,
  backend: BlobBackend,
  chunkSize: number,
): Promise<void> {
  const { blobId, offset, length } = call.request;
  if (!isValidBlobId(blobId)) throw new InvalidArgumentError(`bad blob id "${blobId}"`);
  const reader = await backend.read(blobId, offset, length);
  const it = reader.chunks[Symbol.asyncIterator]();
  try {
    if (!(await writeWithBackpressure(call, { part: { $case: "info", value: toBlobInfo(reader.meta) } }))) return;
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      const chunk = r.value;
      for (let at = 0; at < chunk.length; at += chunkSize) {
        const piece = at === 0 && chunk.length <= chunkSize ? chunk : chunk.subarray(at, at + chunkSize);
        if (!(await writeWithBackpressure(call, { part: { $case: "chunk", value: piece } }))) return;
      }
    }
    call.end();
  } finally {
    // Stops the backend's reader (and closes its file) if we left early.
    await it.return?.();
  }
}

/** Writes one message; when the call's buffer is full waits for "drain". False if the call is gone. */
async function writeWithBackpressure<T>(call: grpc.ServerWritableStream<unknown, T>, msg: T): Promise<boolean> {
  if (call.cancelled || call.destroyed) return false;
  if (call.write(msg)) return true;
  const ac = new AbortController();
  try {
    await Promise.race([once(call, "drain", { signal: ac.signal }), once(call, "close", { signal: ac.signal })]);
  } catch {
    return false;
  } finally {
    ac.abort();
  }
  return !call.cancelled && !call.destroyed;
}

export interface RunningNodeServer {
  server: grpc.Server;
  port: number;
  stop(graceMs?: number): Promise<void>;
}

/** Serves `backend` as NodeService (gRPC) and its blob plane on host:port (0 = any free port). */
export async function startNodeServer(
  given: BlobBackend,
  host: string,
  port: number,
  opts: NodeServiceOptions,
): Promise<RunningNodeServer> {
  // The secret first: a stranger learns nothing, not even which node this is.
  const checks = opts.clusterSecret ? [requiringSecret(opts.clusterSecret), refusingOtherNodes(opts.id)] : [refusingOtherNodes(opts.id)];
  // Metrics first, so a refused call is counted too.
  const interceptors = [measuringCalls("node"), ...checks.map(exceptHealth)];
  const server = new grpc.Server({ ...SERVER_OPTIONS, interceptors });
  // One fence for the service and the blob plane: a put over either numbers the blob for deletes.
  const backend = fencedBackend(given);
  const peers = new PeerReaders(opts.clusterSecret);
  server.addService(measuredService(FastNodeService, "node"), createNodeService(backend, { ...opts, peers }));
  let stopping = false;
  addHealthService(server, {
    services: ["minis3.v1.NodeService"],
    // Serving while not shutting down and the backend answers (its stats read the disk, or memory).
    probe: async () => {
      if (stopping) return false;
      await backend.stats();
      return opts.ready ? opts.ready() : true;
    },
  });
  const blobs = createBlobHttpServer(backend, { id: opts.id, clusterSecret: opts.clusterSecret, log: opts.log });
  const shared = await listenShared(server, blobs, host, port);
  const stop = async (graceMs = 3000) => {
    stopping = true;
    try {
      await shared.close(graceMs);
    } finally {
      peers.close();
    }
  };
  return { server, port: shared.port, stop };
}

/**
 * Health calls are open, without the cluster secret: probes (compose, Kubernetes, grpc_health_probe)
 * carry no secret, and SERVING / NOT_SERVING tells a stranger nothing a refused call would not.
 */
function exceptHealth(interceptor: grpc.ServerInterceptor): grpc.ServerInterceptor {
  return (method, call) => (method.path.startsWith(HEALTH_PATH_PREFIX) ? new grpc.ServerInterceptingCall(call) : interceptor(method, call));
}
