// The coordinator's gRPC API for clients: minis3.v1.ObjectService (streaming put/get and the
// object calls) on the ObjectEngine, and minis3.v1.AdminService on the ClusterAdmin.
import * as grpc from "@grpc/grpc-js";
import { ownBodyPiece } from "../../common/body-pieces";
import { InvalidArgumentError } from "../../common/errors";
import {
  AdminServiceService,
  ObjectServiceService,
  type AdminServiceServer,
  type GetObjectRequest,
  type GetObjectResponse,
  type ObjectServiceServer,
  type PutObjectRequest,
  type PutObjectResponse,
  type PutObjectTrailer,
  type RemoveNodeRequest,
} from "../../rpc/gen/minis3/v1/object";
import type { Logger } from "../../common/logger";
import { measuredService } from "../../common/metrics/grpc-metrics";
import type { ClusterAdmin } from "../admin/cluster-admin";
import { checkKey } from "../objects/names";
import type { ByteRange, ExpectedDigests, ObjectEngine, PutInput } from "../objects/object-engine";
import { CallReader } from "./grpc-call-reader";
import type { Caller } from "./caller";
import { type CallerOf, grpcCallers } from "./grpc-credentials";
import { grpcStatusOf } from "./grpc-status";
import { grpcRequestId } from "./request-ids";
import { clusterStatus, nodeStatus, objectInfo, trashEntry } from "./grpc-views";

/** Largest chunk message GetObject sends (the proto promises chunks of at most 1 MiB). */
export const MAX_CHUNK_BYTES = 1024 * 1024;
const MAX_LIST_LIMIT = 1000;
const OCTET_STREAM = "application/octet-stream";

/** `callers` checks each call's credentials (grpc-credentials.ts); the default lets anyone in. */
export function addObjectServices(
  server: grpc.Server,
  engine: ObjectEngine,
  admin: ClusterAdmin,
  logger?: Logger,
  callers: CallerOf = grpcCallers(undefined),
): void {
  // Their messages' bytes count in the request metrics (the server's interceptor times the calls).
  server.addService(measuredService(ObjectServiceService, "grpc"), createObjectService(engine, logger, callers));
  server.addService(measuredService(AdminServiceService, "grpc"), createAdminService(admin, logger, callers));
}

export function createObjectService(
  engine: ObjectEngine,
  logger?: Logger,
  callers: CallerOf = grpcCallers(undefined),
): ObjectServiceServer {
  const unary = unaryWith(callers, logger);
  return {
    putObject: (call, callback) => {
      const requestId = grpcRequestId(call);
      putObject(engine, call, callers, requestId).then(
        (response) => callback(null, response),
        (e) => callback(statusOf(e, logger, requestId)),
      );
    },
    getObject: (call) => {
      void getObject(engine, call, callers, grpcRequestId(call), logger);
    },
    headObject: unary(async (req, caller) => {
      const [bucket, key] = [caller.bucket(req.bucket), checkKey(req.key)];
      const view = await (req.versionId ? engine.headVersion(bucket, key, req.versionId) : engine.head(bucket, key));
      return { object: objectInfo(view), next: view.next ?? undefined };
    }),
    deleteObject: unary(async (req, caller, requestId) => engine.delete(caller.bucket(req.bucket), checkKey(req.key), requestId)),
    listObjects: unary(async (req, caller) => {
      const page = await engine.list(caller.bucket(req.bucket), req.prefix, listLimit(req.limit), req.cursor);
      return { objects: page.objects.map(objectInfo), nextCursor: page.nextCursor };
    }),
    undeleteObject: unary(async (req, caller, requestId) => ({
      object: objectInfo(await engine.undelete(caller.bucket(req.bucket), checkKey(req.key), requestId)),
    })),
    listTrash: unary(async (req, caller) => {
      const page = await engine.listTrash(caller.bucket(req.bucket), req.prefix, listLimit(req.limit), req.cursor);
      return { entries: page.entries.map(trashEntry), nextCursor: page.nextCursor };
    }),
  };
}

export function createAdminService(admin: ClusterAdmin, logger?: Logger, callers: CallerOf = grpcCallers(undefined)): AdminServiceServer {
  const unary = unaryWith(callers, logger);
  return {
    getStatus: unary(async (_req, caller) => {
      caller.admin();
      return clusterStatus(await admin.status());
    }),
    removeNode: unary(async (req: RemoveNodeRequest, caller) => {
      caller.admin();
      if (!req.id) throw new InvalidArgumentError("id: the node to remove");
      return nodeStatus(await admin.removeNode(req.id));
    }),
  };
}

/** Header first, then chunks. The engine pulls the chunks; a cancel makes the pull throw. */
async function putObject(
  engine: ObjectEngine,
  call: grpc.ServerReadableStream<PutObjectRequest, PutObjectResponse>,
  callers: CallerOf,
  requestId: string,
): Promise<PutObjectResponse> {
  const caller = callers(call.metadata); // before a byte is read
  const reader = new CallReader(call);
  const first = await reader.next();
  if (first?.part?.$case !== "header") throw new InvalidArgumentError("PutObject must start with a header message");
  const header = first.part.value;
  const cancelled = new AbortController();
  call.once("cancelled", () => cancelled.abort());
  const input: PutInput = {
    signal: cancelled.signal,
    confirmEnd: () => reader.confirmEnd(),
    bucket: caller.bucket(header.bucket),
    key: checkKey(header.key),
    contentType: header.contentType || OCTET_STREAM,
    contentLength: header.contentLength,
    metadata: header.metadata,
    body: chunksOf(reader, header.trailerFollows === true, (trailer) => nameDigests(input, trailer, "trailer")),
    requestId,
  };
  nameDigests(input, header, "header");
  const view = await engine.put(input);
  return { object: objectInfo(view) };
}

/**
 * The chunks, up to the stream's end or its trailer (nothing may follow that). A trailer's digests
 * are handed over before the body ends, so the engine compares them as it would the header's. A
 * header that promised a trailer makes a stream without one a failed upload: grpc-js's cancel ends
 * the stream before resetting it, so a cut-short body can look like a whole one (grpc-call-reader.ts).
 */
async function* chunksOf(
  reader: CallReader<PutObjectRequest>,
  trailerFollows: boolean,
  onTrailer: (t: PutObjectTrailer) => void,
): AsyncGenerator<Buffer> {
  for (;;) {
    const message = await reader.next();
    if (message === undefined) {
      if (trailerFollows) throw new InvalidArgumentError("PutObject: the stream ended without the trailer its header promised");
      return;
    }
    if (message.part?.$case === "trailer") {
      onTrailer(message.part.value);
      if ((await reader.next()) !== undefined) throw new InvalidArgumentError("PutObject: nothing may follow the trailer");
      return;
    }
    if (message.part?.$case !== "chunk") throw new InvalidArgumentError("PutObject: only chunks and a trailer may follow the header");
    // The generated decoder copies a chunk out of its message (Buffer.from): a chunk of 4 KiB and up is
    // the only view of its memory, and the engine may free it once used (body-pieces.ts checks).
    if (message.part.value.length > 0) yield ownBodyPiece(message.part.value);
  }
}

/**
 * Adds the digests a header or trailer names to what the engine checks the body against (it hashes
 * every upload anyway: the check costs a comparison). Hex, either case; one named twice must agree.
 */
function nameDigests(into: ExpectedDigests, given: { sha256?: string; md5?: string }, where: string): void {
  into.payloadSha256 = agreed(into.payloadSha256, hexDigest(given.sha256, 64, `${where} sha256`), "sha256");
  into.contentMd5 = agreed(into.contentMd5, hexDigest(given.md5, 32, `${where} md5`), "md5");
}

function hexDigest(value: string | undefined, length: number, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.length !== length || !/^[0-9a-f]*$/i.test(value)) {
    throw new InvalidArgumentError(`PutObject: the ${what} must be ${length} hex digits`);
  }
  return value.toLowerCase();
}

function agreed(before: string | undefined, now: string | undefined, what: string): string | undefined {
  if (before !== undefined && now !== undefined && before !== now) {
    throw new InvalidArgumentError(`PutObject: the trailer's ${what} is not the header's`);
  }
  return now ?? before;
}

/** An info message, then the bytes in chunks of at most 1 MiB, written with backpressure. */
async function getObject(
  engine: ObjectEngine,
  call: grpc.ServerWritableStream<GetObjectRequest, GetObjectResponse>,
  callers: CallerOf,
  requestId: string,
  logger?: Logger,
): Promise<void> {
  let body: AsyncIterator<Buffer> | undefined;
  let finished = false;
  try {
    const req = call.request;
    const range: ByteRange | undefined =
      req.offset > 0 || req.length !== undefined ? { offset: req.offset, length: req.length } : undefined;
    const got = await engine.get(callers(call.metadata).bucket(req.bucket), checkKey(req.key), range, requestId);
    body = got.body[Symbol.asyncIterator]();
    if (call.cancelled) return;
    const info = { object: objectInfo(got.object), offset: got.offset, length: got.length, servedFrom: got.servedFrom };
    call.write({ part: { $case: "info", value: info } });
    for (;;) {
      const next = await body.next();
      if (next.done) break;
      for (let at = 0; at < next.value.length; at += MAX_CHUNK_BYTES) {
        if (call.cancelled) return;
        const chunk = next.value.length <= MAX_CHUNK_BYTES ? next.value : next.value.subarray(at, at + MAX_CHUNK_BYTES);
        if (!call.write({ part: { $case: "chunk", value: chunk } })) await drainOrCancel(call);
      }
    }
    finished = true;
    call.end();
  } catch (e) {
    if (!call.cancelled) call.emit("error", serviceError(statusOf(e, logger, requestId)));
  } finally {
    // Cancelled or failed mid-way: stop the read on the node.
    if (!finished) await body?.return?.().catch(() => undefined);
  }
}

function drainOrCancel(call: grpc.ServerWritableStream<GetObjectRequest, GetObjectResponse>): Promise<void> {
  if (call.cancelled) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      resolve();
    };
    call.on("drain", done);
    call.on("cancelled", done);
  });
}

function listLimit(limit: number): number {
  return limit === 0 ? MAX_LIST_LIMIT : Math.min(limit, MAX_LIST_LIMIT);
}

function unaryWith(callers: CallerOf, logger?: Logger) {
  return <Req, Res>(handle: (req: Req, caller: Caller, requestId: string) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const requestId = grpcRequestId(call);
      Promise.resolve()
        .then(() => handle(call.request, callers(call.metadata), requestId))
        .then(
          (response) => callback(null, response),
          (e) => callback(statusOf(e, logger, requestId)),
        );
    };
}

function statusOf(e: unknown, logger: Logger | undefined, requestId: string): { code: grpc.status; details: string } {
  const s = grpcStatusOf(e);
  if (s.code === grpc.status.INTERNAL) logger?.error({ err: e, requestId }, "gRPC call failed");
  return s;
}

function serviceError(s: { code: grpc.status; details: string }): Error {
  return Object.assign(new Error(s.details), s);
}
