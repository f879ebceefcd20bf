import * as http from "node:http";
import { ErrorCode, isMiniS3Error, MiniS3Error } from "../../common/errors";
import { REQUEST_ID_HEADER, type RequestId } from "../../common/request-context";
import type { BlobReader } from "../blob-backend";
import { clampRange } from "../blob-info";
import { BLOB_INFO_HEADER, BLOB_PATH, decodeBlobInfo, errorFromFields } from "../blob-plane";
import { CLUSTER_SECRET_HEADER } from "../cluster-secret";
import { NODE_ID_HEADER } from "../node-identity";
import { ProgressDeadline } from "./progress-deadline";

/**
 * An idle connection is closed after this long, before the node would close it
 * (server/blob-http-server.ts BLOB_HTTP_KEEP_ALIVE_MS), so a read is never sent on a closing one.
 */
const IDLE_SOCKET_MS = 30_000;

/** Body bytes held for a reader that is slower than the node: a few socket reads' worth. */
const BODY_BUFFER_BYTES = 1024 * 1024;

/**
 * The request never got an answer in a form this side speaks: a node that serves only gRPC on its
 * port (an older one) closes a connection that does not open with HTTP/2's preface. The caller
 * reads over gRPC instead.
 */
export class BlobPlaneUnsupported extends Error {}

export interface BlobHttpReadOptions {
  deadlineMs: number;
  idleMs: number;
  clusterSecret?: string;
}

/** The coordinator's side of one node's blob plane (rpc/blob-plane.ts): ranged reads of large blobs. */
export class BlobHttpReader {
  private readonly agent = new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: "lifo" });
  private readonly host: string;
  private readonly port: number;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly nodeId: string,
    address: string,
    private readonly opts: BlobHttpReadOptions,
  ) {
    const url = new URL(`http://${address}`);
    this.host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    this.port = Number(url.port);
    this.headers = { [NODE_ID_HEADER]: nodeId, ...(opts.clusterSecret ? { [CLUSTER_SECRET_HEADER]: opts.clusterSecret } : {}) };
  }

  /**
   * Rejects (NotFoundError...) before the first byte; then streams the range, checked by the node's
   * trailer. The node's line about it names `requestId`.
   */
  async read(blobId: string, offset: number, length: number | undefined, requestId?: RequestId): Promise<BlobReader> {
    const res = await this.request(blobId, offset, length, requestId);
    if (res.statusCode !== 200) {
      res.resume();
      throw errorFromFields(res.headers, `node ${this.nodeId} answered a blob read with HTTP ${res.statusCode}`)!;
    }
    const info = res.headers[BLOB_INFO_HEADER];
    if (typeof info !== "string") {
      res.destroy();
      throw new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.nodeId} sent no blob info`);
    }
    const meta = decodeBlobInfo(info);
    return { meta, ...clampRange(meta.size, offset, length), chunks: this.chunksOf(res) };
  }

  close(): void {
    this.agent.destroy();
  }

  private async request(blobId: string, offset: number, length: number | undefined, requestId: RequestId): Promise<http.IncomingMessage> {
    const path = `${BLOB_PATH}${encodeURIComponent(blobId)}?offset=${offset}${length === undefined ? "" : `&length=${length}`}`;
    const headers = requestId === undefined ? this.headers : { ...this.headers, [REQUEST_ID_HEADER]: requestId };
    for (let attempt = 0; ; attempt++) {
      const req = http.request({ host: this.host, port: this.port, path, agent: this.agent, headers });
      const start = new ProgressDeadline(this.opts.deadlineMs, () => req.destroy());
      try {
        return await start.around(
          new Promise<http.IncomingMessage>((resolve, reject) => {
            req.once("response", resolve);
            req.once("error", reject);
            req.end();
          }),
        );
      } catch (e) {
        req.destroy();
        if (start.expired)
          throw new MiniS3Error(
            ErrorCode.NodeUnavailable,
            `node ${this.nodeId} did not start a blob read within ${this.opts.deadlineMs} ms`,
          );
        const code = (e as NodeJS.ErrnoException).code ?? "";
        // A kept-alive connection the node closed as we reused it: once more, on a new one.
        if (req.reusedSocket && code === "ECONNRESET" && attempt === 0) continue;
        if (code.startsWith("HPE_") || code === "ECONNRESET")
          throw new BlobPlaneUnsupported(`node ${this.nodeId}: ${(e as Error).message}`);
        throw this.transportError(e);
      }
    }
  }

  /** The body's chunks; done only after the node's trailer said "ok". return() cuts the read. */
  private chunksOf(res: http.IncomingMessage): AsyncIterable<Buffer> {
    const body = new BodyQueue(res);
    const idle = new ProgressDeadline(this.opts.idleMs, () => res.destroy());
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        res.destroy();
      }
    };
    const iterator: AsyncIterator<Buffer> = {
      next: async () => {
        if (done) return { done: true, value: undefined };
        try {
          const chunk = body.take() ?? (await idle.around(body.next()));
          if (chunk) return { done: false, value: chunk };
          done = true;
          const failed = errorFromFields(res.trailers, `node ${this.nodeId} ended a blob read without its verdict`);
          if (failed) throw failed;
          return { done: true, value: undefined };
        } catch (e) {
          finish();
          if (idle.expired)
            throw new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.nodeId} sent nothing for ${this.opts.idleMs} ms (blob read)`);
          throw this.transportError(e);
        }
      },
      return: async () => {
        finish();
        return { done: true, value: undefined };
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }

  private transportError(e: unknown): MiniS3Error {
    return isMiniS3Error(e) ? e : new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.nodeId}: ${(e as Error).message}`);
  }
}

/**
 * A response body as the chunks its socket reads gave ('data' events), at most BODY_BUFFER_BYTES
 * held before the socket is paused (backpressure to the node). Not the stream's async iterator:
 * its read() joins whatever is buffered into one new Buffer, a copy of every byte that took 190 ms
 * of the 64 MiB read's ~1 s of client CPU (--cpu-prof, 2026-12-01).
 */
class BodyQueue {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private failure?: Error;
  private wake?: () => void;

  constructor(private readonly res: http.IncomingMessage) {
    res.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
      if (this.bytes >= BODY_BUFFER_BYTES) res.pause();
      this.wake?.();
    });
    res.once("end", () => {
      this.ended = true;
      this.wake?.();
    });
    res.once("error", (e) => {
      this.failure ??= e;
      this.wake?.();
    });
    res.once("close", () => {
      if (!this.ended) this.failure ??= new Error("the blob read was cut before its end");
      this.wake?.();
    });
  }

  /** A chunk already here, or undefined. */
  take(): Buffer | undefined {
    const chunk = this.chunks.shift();
    if (chunk === undefined) return undefined;
    this.bytes -= chunk.length;
    if (this.bytes < BODY_BUFFER_BYTES && this.res.isPaused()) this.res.resume();
    return chunk;
  }

  /** The next chunk when it comes; undefined at the body's end; throws if the body was cut. */
  async next(): Promise<Buffer | undefined> {
    for (;;) {
      const chunk = this.take();
      if (chunk) return chunk;
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
