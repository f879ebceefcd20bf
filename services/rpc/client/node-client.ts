import * as grpc from "@grpc/grpc-js";
import { once } from "node:events";
import { AbortedError, ErrorCode, IntegrityError, MiniS3Error } from "../../common/errors";
import {
  type BlobInfo,
  type NodeServiceClient,
  type BlobOpResult,
  type ReadBlobResponse,
  type VerifyBlobResponse,
  VerifyBlobResponse_Verdict as Verdict,
  type WriteBlobRequest,
} from "../gen/minis3/v1/node";
import { GRPC_OPTIONS } from "../../common/grpc";
import type { NodeKind, NodeStats } from "../../membership/node-record";
import type { BlobMeta, BlobVerdict, BlobVerification, WireCheck } from "../blob-backend";
import { clampRange, fromBlobInfo } from "../blob-info";
import { presentingSecret } from "../cluster-secret";
import { askingFor } from "../node-identity";
import type { RequestId } from "../../common/request-context";
import { requestMetadata } from "../request-ids";
import { BlobHttpClient, BlobPlaneUnsupported } from "./blob-http-client";
import { BlobHttpUpload } from "./blob-http-upload";
import type { BlobUpload } from "./blob-upload";
import { ExchangeSession } from "./exchange-session";
import { ProgressDeadline } from "./progress-deadline";
import { FastNodeServiceClient } from "../wire/node-service-fast";
import { fromNodeCallError, fromWireCode, WIRE_CODE, WIRE_OK } from "../wire-errors";

const WIRE_NOT_FOUND = WIRE_CODE[ErrorCode.NoSuchKey];

/**
 * A verify re-reads the whole blob on the node: its deadline is the small-op deadline plus the
 * blob's size at this rate, far below a node's disk and sha256 speed (hundreds of MB/s) even when
 * busy, so only a node that is stuck misses it.
 */
export const VERIFY_MIN_BYTES_PER_S = 8 * 1024 * 1024;

/**
 * A copy expected this small or smaller is checked with one whole read on the Exchange stream: the
 * node's read of a whole blob is the check (blob-verify.ts), and the op shares the stream's messages
 * with other traffic. A stat plus a unary VerifyBlob call cost ~2 ms of CPU in the coordinator and
 * as much in the node per 4 KiB copy (grpc-js sets up a call, headers and trailers each way), about
 * what 1.5 mixed foreground ops cost: at the scrubber's 64 checks a second that was the 0.79× of
 * the mixed bench (2026-12-01). Above this size the bytes cost more than the call.
 */
export const CHECK_INLINE_MAX_BYTES = 64 * 1024;
const WIRE_CORRUPT = WIRE_CODE[ErrorCode.IntegrityError];

export interface NodeClientOptions {
  /** Deadline of each small op, and of a read's first message. */
  deadlineMs?: number;
  /**
   * Streams (WriteBlob, ReadBlob after its first message, ListBlobs) fail after this long without
   * progress: no message from the node, or no room freed in a full send buffer. Time the caller
   * spends elsewhere (a slow HTTP client) does not count.
   */
  idleMs?: number;
  /**
   * How long a node may take to make a streamed blob durable once it has the trailer (it fsyncs
   * the whole file, which no progress signal covers): a disk stuck there must not hold the upload forever.
   */
  commitMs?: number;
  /** Largest chunk put in one WriteBlob message (bigger writes are split, without copying). */
  maxChunkBytes?: number;
  /** MINIS3_CLUSTER_SECRET, sent with every call ("" or unset: none, for nodes that require none). */
  clusterSecret?: string;
  /**
   * Read and write large blobs over the node's blob plane (rpc/blob-plane.ts) rather than ReadBlob
   * and WriteBlob; a node that does not serve one is read and written over gRPC anyway. Default true.
   */
  blobPlane?: boolean;
}

export interface NodeInfoResult extends NodeStats {
  id: string;
  kind: NodeKind;
}

export type { BlobUpload } from "./blob-upload";

/** How long a caller waits for a node by default: its first answer, each silence mid-stream, a write's commit. */
export const NODE_CALL_LIMITS = { deadlineMs: 10_000, idleMs: 10_000, commitMs: 60_000 } as const;

/**
 * The node kept the copy a delete named: it was put after the position the delete named (a newer
 * copy, maybe committed by another job), even asked again at the node's latest position. Nothing was
 * deleted; a cleanup leaves the copy pending (a later one decides again under its own lock).
 */
export class DeleteFenced extends Error {}

/**
 * Resolves once the caller's row lock is known to be held still (a query on the connection whose
 * transaction holds it answered); rejects when it is not. A fenced delete is asked again only after
 * it: the position its answer came with may be later than another job's claim of the node once the
 * lock has gone (MariaDB restarted, the connection killed) while the caller waited.
 */
export type LockHeld = () => Promise<void>;

/** The node does not serve PullBlob (an older one): its caller copies the bytes itself. */
export class PullUnsupported extends Error {}

export interface BlobRead {
  meta: BlobMeta;
  offset: number;
  length: number;
  /** Single use. Breaking out of the loop cancels the call. */
  chunks: AsyncIterable<Buffer>;
  /** Over the blob plane: hands a chunk back to be read into again (BlobReader.recycle's contract). */
  recycle?(chunk: Buffer): void;
  /** Over the blob plane, a whole read of a copy that keeps block crc32s: their fold (BlobReader.blockCrc). */
  blockCrc?: number;
}

/**
 * The coordinator's client to one node. Small ops share one Exchange stream; big blobs stream.
 * A method for a request's work takes its id last (`requestId`): Exchange ops carry it in the op,
 * calls in their metadata, so the node's lines about it name it.
 */
export class NodeClient {
  private readonly client: NodeServiceClient;
  private readonly exchange: ExchangeSession;
  private readonly deadlineMs: number;
  private readonly idleMs: number;
  private readonly commitMs: number;
  private readonly maxChunk: number;
  private readonly plane?: BlobHttpClient;

  constructor(
    readonly id: string,
    readonly address: string,
    opts: NodeClientOptions = {},
  ) {
    this.deadlineMs = opts.deadlineMs ?? NODE_CALL_LIMITS.deadlineMs;
    this.idleMs = opts.idleMs ?? NODE_CALL_LIMITS.idleMs;
    this.commitMs = opts.commitMs ?? NODE_CALL_LIMITS.commitMs;
    this.maxChunk = opts.maxChunkBytes ?? 1024 * 1024;
    const interceptors = [...(opts.clusterSecret ? [presentingSecret(opts.clusterSecret)] : []), askingFor(id)];
    this.client = new FastNodeServiceClient(address, grpc.credentials.createInsecure(), { ...GRPC_OPTIONS, interceptors });
    this.exchange = new ExchangeSession(this.client, id, this.deadlineMs);
    if (opts.blobPlane ?? true)
      this.plane = new BlobHttpClient(id, address, {
        deadlineMs: this.deadlineMs,
        idleMs: this.idleMs,
        commitMs: this.commitMs,
        clusterSecret: opts.clusterSecret,
      });
  }

  /** Ops waiting for an answer on the Exchange stream (a load signal). */
  get inFlight(): number {
    return this.exchange.inFlight;
  }

  /**
   * `crc32`: the sender's zlib crc32 of `data`; a storage node then checks the data by it instead of
   * hashing it with sha256 (BlobBackend.putSmall). An older node ignores it and checks the sha256.
   */
  async putSmall(
    blobId: string,
    attributes: Record<string, string>,
    data: Buffer,
    sha256: Buffer,
    requestId?: RequestId,
    crc32?: number,
  ): Promise<BlobMeta> {
    const r = checked(
      await this.exchange.submit({ $case: "put", value: { header: { blobId, attributes }, data, sha256, crc32 } }, data.length, requestId),
    );
    // The node's answer leaves the attributes out (exchange-server.ts putAnswer): they are the ones sent.
    const info = r.blob!;
    info.attributes = attributes;
    return fromBlobInfo(info);
  }

  /** A whole blob in one answer (the node refuses blobs over its inline limit: read those with readBlob). */
  async getSmall(blobId: string, requestId?: RequestId): Promise<{ meta: BlobMeta; data: Buffer }> {
    const r = checked(await this.exchange.submit({ $case: "get", value: { blobId, offset: 0, length: undefined } }, 0, requestId));
    return { meta: fromBlobInfo(r.blob!), data: r.data };
  }

  /**
   * Idempotent: false when the node had nothing to delete. Fenced (server/put-fence.ts): the delete
   * names the latest position of the node's puts this client heard, so a delete that reaches the
   * node late (after its caller gave up, or died, and the row lock it was sent under went) cannot take
   * a copy put after it was sent. Callers send it under the lock of the row that no longer lists the
   * copy, so any claim of the node, and so any new copy, comes after. A copy put after that
   * position (another coordinator's, after this client's last answer) is fenced: asked again once at
   * the position the fenced answer came with, once `stillHeld` proves the caller's lock outlived that
   * answer; without it, or if fenced again, DeleteFenced. A first delete to a node not heard from yet asks a stat
   * first to learn its position (an older node never says one: its deletes go unfenced, as before).
   */
  async deleteBlob(blobId: string, requestId?: RequestId, stillHeld?: LockHeld): Promise<boolean> {
    if (!this.exchange.heard) await this.statBlob(blobId, requestId);
    for (let attempt = 0; ; attempt++) {
      const at = this.exchange.position;
      const r = checked(
        await this.exchange.submit({ $case: "delete", value: { blobId, fenceBoot: at?.boot ?? 0, fenceSeq: at?.seq ?? 0 } }, 0, requestId),
      );
      if (!r.fenced) return r.existed;
      if (!stillHeld || attempt > 0) throw new DeleteFenced(`node ${this.id} holds a copy of ${blobId} put after the delete's position`);
      await stillHeld();
    }
  }

  /** null when the node does not have the blob. */
  async statBlob(blobId: string, requestId?: RequestId): Promise<BlobMeta | null> {
    const r = await this.exchange.submit({ $case: "stat", value: { blobId } }, 0, requestId);
    if (r.code === WIRE_NOT_FOUND) return null;
    return fromBlobInfo(checked(r).blob!);
  }

  /** Has the node re-read the blob's bytes and check them against its stored sha256. */
  async verifyBlob(blobId: string): Promise<BlobVerdict> {
    return (await this.checkBlob(blobId)).verdict;
  }

  /**
   * verifyBlob with the meta that was checked (ok) or what failed (corrupt). With an expected size
   * of at most CHECK_INLINE_MAX_BYTES, one Exchange get is the check. Otherwise a stat first gives
   * the size, which sets the deadline; a node that cannot even read the blob's meta holds it corrupt.
   * Throws only when the node did not answer (NodeUnavailable) or failed otherwise.
   */
  async checkBlob(blobId: string, expectedSize?: number, requestId?: RequestId): Promise<BlobVerification> {
    if (expectedSize !== undefined && expectedSize <= CHECK_INLINE_MAX_BYTES) {
      const r = await this.exchange.submit({ $case: "get", value: { blobId, offset: 0, length: undefined } }, 0, requestId);
      if (r.code === WIRE_OK) return { verdict: "ok", meta: fromBlobInfo(r.blob!) };
      if (r.code === WIRE_NOT_FOUND) return { verdict: "missing" };
      if (r.code === WIRE_CORRUPT) return { verdict: "corrupt", problem: r.message };
      // Anything else (larger than the node sends inline, a disk error…): VerifyBlob tells which.
    }
    let size: number;
    try {
      const meta = await this.statBlob(blobId, requestId);
      if (!meta) return { verdict: "missing" };
      size = meta.size;
    } catch (e) {
      if (e instanceof IntegrityError) return { verdict: "corrupt", problem: e.message };
      throw e;
    }
    const deadline = Date.now() + this.deadlineMs + Math.ceil((size / VERIFY_MIN_BYTES_PER_S) * 1000);
    const res = await new Promise<VerifyBlobResponse>((resolve, reject) => {
      this.client.verifyBlob({ blobId }, requestMetadata(requestId), { deadline }, (err, r) =>
        err ? reject(fromNodeCallError(err)) : resolve(r),
      );
    });
    switch (res.verdict) {
      case Verdict.VERDICT_OK:
        if (!res.blob) throw new MiniS3Error(ErrorCode.Internal, `node ${this.id} verified ${blobId} without its meta`);
        return { verdict: "ok", meta: fromBlobInfo(res.blob) };
      case Verdict.VERDICT_CORRUPT:
        return { verdict: "corrupt", problem: res.problem };
      case Verdict.VERDICT_MISSING:
        return { verdict: "missing" };
      default:
        throw new MiniS3Error(ErrorCode.Internal, `node ${this.id} answered VerifyBlob with verdict ${res.verdict}`);
    }
  }

  /**
   * Has the node write blob `blobId` as `parts` one after the other from its own copies of them
   * (server/compose-blob.ts), and answers the new blob's meta. The deadline grows with the bytes
   * as a verify's does (the node reads and writes each once). A node too old for the call answers
   * UNIMPLEMENTED, an error here like any other: the caller copies the bytes itself instead.
   */
  async composeBlob(
    blobId: string,
    attributes: Record<string, string>,
    parts: readonly { blobId: string; size: number; sha256: Buffer }[],
    requestId?: RequestId,
  ): Promise<BlobMeta> {
    const bytes = parts.reduce((n, p) => n + p.size, 0);
    const deadline = Date.now() + this.deadlineMs + Math.ceil((bytes / VERIFY_MIN_BYTES_PER_S) * 1000);
    const info = await new Promise<BlobInfo>((resolve, reject) => {
      this.client.composeBlob({ blobId, attributes, parts: [...parts] }, requestMetadata(requestId), { deadline }, (err, r) =>
        err ? reject(fromNodeCallError(err)) : resolve(r),
      );
    });
    return fromBlobInfo(info);
  }

  /**
   * Has the node copy blob `blobId` from the first of `sources` that serves it, node to node
   * (server/pull-blob.ts), checked against `size` and `sha256`; answers the new copy's meta. The
   * whole call has a streamed write's commit deadline plus the bytes at the slowest rate a node is
   * allowed (a compose's): a stuck target fails like a stuck commit. PullUnsupported from a node
   * too old for the call; BytesUnreachable when it could read no source: the caller streams the
   * bytes itself then.
   */
  async pullBlob(
    blobId: string,
    attributes: Record<string, string>,
    size: number,
    sha256: Buffer,
    sources: readonly { nodeId: string; address: string }[],
    requestId?: RequestId,
  ): Promise<BlobMeta> {
    const deadline = Date.now() + this.commitMs + Math.ceil((size / VERIFY_MIN_BYTES_PER_S) * 1000);
    const info = await new Promise<BlobInfo>((resolve, reject) => {
      this.client.pullBlob(
        { blobId, attributes, size, sha256, sources: [...sources] },
        requestMetadata(requestId),
        { deadline },
        (err, r) => {
          if (!err) resolve(r);
          else if (err.code === grpc.status.UNIMPLEMENTED) reject(new PullUnsupported(`node ${this.id} does not serve PullBlob`));
          else reject(fromNodeCallError(err));
        },
      );
    });
    return fromBlobInfo(info);
  }

  /**
   * Over the blob plane; over WriteBlob when the node does not speak it (or `blobPlane: false`).
   * `check` "blockCrc": the node checks the bytes by the fold of their block crc32s given to finish()
   * (the blob plane only; WriteBlob checks the sha256 whatever this says).
   */
  writeBlob(blobId: string, attributes: Record<string, string>, requestId?: RequestId, check: WireCheck = "sha256"): BlobUpload {
    const overGrpc = () =>
      new GrpcBlobUpload(this.client, blobId, attributes, this.maxChunk, this.id, this.idleMs, this.commitMs, requestId);
    return this.plane ? new BlobHttpUpload(this.plane, blobId, attributes, requestId, overGrpc, check) : overGrpc();
  }

  /** Rejects (NotFoundError...) before the first byte; then streams the range. */
  async readBlob(blobId: string, offset = 0, length?: number, requestId?: RequestId): Promise<BlobRead> {
    if (this.plane) {
      try {
        return await this.plane.read(blobId, offset, length, requestId);
      } catch (e) {
        if (!(e instanceof BlobPlaneUnsupported)) throw e;
      }
    }
    return this.readOverGrpc(blobId, offset, length, requestId);
  }

  /** ReadBlob: the blob plane's fallback. */
  private async readOverGrpc(blobId: string, offset: number, length: number | undefined, requestId: RequestId): Promise<BlobRead> {
    const call = this.client.readBlob({ blobId, offset, length }, requestMetadata(requestId));
    call.on("error", () => undefined); // errors reach us through the iterator
    const it = call[Symbol.asyncIterator]() as AsyncIterator<ReadBlobResponse>;
    const start = new ProgressDeadline(this.deadlineMs, () => call.cancel());
    let first: IteratorResult<ReadBlobResponse>;
    try {
      first = await start.around(it.next());
    } catch (e) {
      call.cancel();
      if (start.expired)
        throw new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.id} did not start ReadBlob within ${this.deadlineMs} ms`);
      throw fromNodeCallError(e);
    }
    const part = first.done ? undefined : first.value.part;
    if (part?.$case !== "info") {
      call.cancel();
      throw new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.id} sent no blob info`);
    }
    const meta = fromBlobInfo(part.value);
    const range = clampRange(meta.size, offset, length);
    const idle = new ProgressDeadline(this.idleMs, () => call.cancel());
    return { meta, ...range, chunks: chunksOf(call, it, idle, () => this.stalled("ReadBlob")) };
  }

  async *listBlobs(): AsyncIterable<BlobMeta> {
    const call = this.client.listBlobs({});
    call.on("error", () => undefined); // errors reach us through the iterator
    const it = call[Symbol.asyncIterator]() as AsyncIterator<BlobInfo>;
    const idle = new ProgressDeadline(this.idleMs, () => call.cancel());
    try {
      for (;;) {
        let r: IteratorResult<BlobInfo>;
        try {
          r = await idle.around(it.next());
        } catch (e) {
          throw idle.expired ? this.stalled("ListBlobs") : fromNodeCallError(e);
        }
        if (r.done) return;
        yield fromBlobInfo(r.value);
      }
    } finally {
      call.cancel();
    }
  }

  /** A stream from the node that stopped moving (the node may answer pings while its disk is stuck). */
  private stalled(call: string): MiniS3Error {
    return new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.id} sent nothing for ${this.idleMs} ms (${call})`);
  }

  /** The node's id and stats; `deadlineMs` shorter than the default for a probe. */
  info(deadlineMs = this.deadlineMs): Promise<NodeInfoResult> {
    return new Promise((resolve, reject) => {
      this.client.getInfo({}, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err) return reject(fromNodeCallError(err));
        const { id, kind, blobCount, usedBytes, freeBytes, unreadableRecords } = res;
        resolve({ id, kind: kind as NodeKind, blobCount, usedBytes, freeBytes: freeBytes ?? null, unreadableRecords });
      });
    });
  }

  /**
   * Whether the channel to the node is connected (HTTP/2 settings exchanged), asking an idle one to
   * connect and giving it up to `waitMs`. No call is made: on a connected channel this costs one
   * state read. A channel that failed its last attempt (TRANSIENT_FAILURE) answers false at once,
   * as grpc-js fails calls on it at once.
   */
  async connected(waitMs: number): Promise<boolean> {
    const channel = this.client.getChannel();
    let state = channel.getConnectivityState(true);
    if (state === grpc.connectivityState.READY) return true;
    const until = performance.now() + waitMs;
    while (state === grpc.connectivityState.IDLE || state === grpc.connectivityState.CONNECTING) {
      const left = until - performance.now();
      if (left <= 0) return false;
      // Our own timer (monotonic); grpc-js's watch deadline is a wall-clock Date.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        channel.watchConnectivityState(state, Infinity, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      state = channel.getConnectivityState(true);
    }
    return state === grpc.connectivityState.READY;
  }

  /**
   * Whether the channel's last connection attempt failed and grpc-js is waiting out its backoff:
   * calls made now fail at once with "No connection established", even if the node is back.
   */
  inBackoff(): boolean {
    return this.client.getChannel().getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE;
  }

  close(): void {
    this.plane?.close();
    this.exchange.close();
    this.client.close();
  }
}

function checked(r: BlobOpResult): BlobOpResult {
  if (r.code !== WIRE_OK) throw fromWireCode(r.code, r.message);
  return r;
}

/** The chunk messages after the info; an explicit iterator so return() cancels even before the first next(). */
function chunksOf(
  call: grpc.ClientReadableStream<ReadBlobResponse>,
  it: AsyncIterator<ReadBlobResponse>,
  idle: ProgressDeadline,
  stalled: () => MiniS3Error,
): AsyncIterable<Buffer> {
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      call.cancel();
    }
  };
  const iterator: AsyncIterator<Buffer> = {
    async next() {
      if (done) return { done: true, value: undefined };
      try {
        const r = await idle.around(it.next());
        if (r.done) {
          done = true;
          return { done: true, value: undefined };
        }
        const part = r.value.part;
        if (part?.$case !== "chunk") throw new MiniS3Error(ErrorCode.NodeUnavailable, "unexpected message in ReadBlob stream");
        return { done: false, value: part.value };
      } catch (e) {
        finish();
        throw idle.expired ? stalled() : fromNodeCallError(e);
      }
    },
    async return() {
      finish();
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

class GrpcBlobUpload implements BlobUpload {
  private readonly call: grpc.ClientWritableStream<WriteBlobRequest>;
  private readonly result: Promise<BlobMeta>;
  private failure?: MiniS3Error;
  private state: "open" | "finishing" | "aborted" = "open";
  /** Armed while a full buffer waits for the node to take data. */
  private readonly idle: ProgressDeadline;

  constructor(
    client: NodeServiceClient,
    blobId: string,
    attributes: Record<string, string>,
    private readonly maxChunk: number,
    private readonly nodeId: string,
    idleMs: number,
    private readonly commitMs: number,
    requestId: RequestId,
  ) {
    this.idle = new ProgressDeadline(idleMs, () => this.stuck(`node ${nodeId} took no data for ${idleMs} ms (WriteBlob)`));
    let call!: grpc.ClientWritableStream<WriteBlobRequest>;
    this.result = new Promise<BlobMeta>((resolve, reject) => {
      call = client.writeBlob(requestMetadata(requestId), (err, res) => {
        if (err) {
          this.failure ??= fromNodeCallError(err); // a deadline that cancelled the call said why first
          reject(this.failure);
        } else if (!res.blob) {
          reject((this.failure = new MiniS3Error(ErrorCode.NodeUnavailable, "node answered WriteBlob without blob info")));
        } else resolve(fromBlobInfo(res.blob));
      });
    });
    this.result.catch(() => undefined); // surfaced through write()/finish()
    this.call = call;
    call.on("error", () => undefined);
    call.write({ part: { $case: "header", value: { blobId, attributes } } });
  }

  async write(chunk: Buffer): Promise<void> {
    this.assertOpen();
    let framed: Promise<void> | undefined;
    for (let at = 0; at < chunk.length; at += this.maxChunk) {
      const piece = chunk.length <= this.maxChunk ? chunk : chunk.subarray(at, at + this.maxChunk);
      const message: WriteBlobRequest = { part: { $case: "chunk", value: piece } };
      let room: boolean;
      if (at + this.maxChunk >= chunk.length) {
        let wrote!: () => void;
        framed = new Promise<void>((resolve) => (wrote = resolve));
        room = this.call.write(message, () => wrote());
      } else room = this.call.write(message);
      if (!room) await this.drained();
      this.assertOpen();
    }
    // grpc-js frames each message into a Buffer of its own (a copy) before its write callback: once
    // the last piece's came, the caller may refill the chunk. A call that fails meanwhile ends it too.
    if (framed) await this.idle.around(Promise.race([framed, this.result])).catch(() => undefined);
    this.assertOpen();
  }

  async finish(size: number, sha256: Buffer): Promise<BlobMeta> {
    this.assertOpen();
    this.state = "finishing";
    this.call.write({ part: { $case: "trailer", value: { size, sha256 } } });
    this.call.end();
    const commit = new ProgressDeadline(this.commitMs, () =>
      this.stuck(`node ${this.nodeId} did not commit within ${this.commitMs} ms (WriteBlob)`),
    );
    return commit.around(this.result);
  }

  abort(): void {
    if (this.state === "aborted") return;
    this.state = "aborted";
    this.call.cancel();
  }

  /** A deadline expired: the call fails with `why` (NodeUnavailable: the node is stuck, as good as unreachable). */
  private stuck(why: string): void {
    this.failure ??= new MiniS3Error(ErrorCode.NodeUnavailable, why);
    this.call.cancel();
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    if (this.state === "aborted") throw new AbortedError("upload aborted");
    if (this.state === "finishing") throw new AbortedError("upload already finished");
  }

  /** Waits for room in the call's buffer, or for the call to fail. */
  private async drained(): Promise<void> {
    const ac = new AbortController();
    try {
      await this.idle.around(Promise.race([once(this.call, "drain", { signal: ac.signal }), this.result]));
    } catch (e) {
      if (this.failure) throw this.failure;
      if ((e as Error).name !== "AbortError") throw fromNodeCallError(e);
    } finally {
      ac.abort();
    }
  }
}
