import * as http from "node:http";
import { ErrorCode, isMiniS3Error, MiniS3Error } from "../../common/errors";
import { REQUEST_ID_HEADER, type RequestId } from "../../common/request-context";
import type { BlobReader } from "../blob-backend";
import { clampRange } from "../blob-info";
import { BLOB_INFO_HEADER, BLOB_PATH, BLOCK_CRC_FIELD, decodeBlobInfo, decodeBlockCrc, errorFromFields } from "../blob-plane";
import { PlanePool, type PlaneResponse, recycleChunk } from "./blob-http-get";
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

export interface BlobHttpOptions {
  /** The node's first answer (a read's headers, a write's "100 Continue"). */
  deadlineMs: number;
  /** Each silence of the node mid-stream (no byte of a read, no room freed for a write). */
  idleMs: number;
  /** A write's commit, from the moment its last byte left this process. */
  commitMs: number;
  clusterSecret?: string;
}

/**
 * The coordinator's side of one node's blob plane (rpc/blob-plane.ts): ranged reads of large blobs
 * (here, on its own sockets: blob-http-get.ts) and uploads (blob-http-upload.ts, node:http), on
 * kept-alive HTTP/1.1 connections.
 */
export class BlobHttpClient {
  private readonly agent = new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: "lifo" });
  private readonly gets: PlanePool;
  private readonly host: string;
  private readonly hostHeader: string;
  private readonly port: number;
  private readonly headers: Record<string, string>;

  constructor(
    readonly nodeId: string,
    address: string,
    readonly opts: BlobHttpOptions,
  ) {
    const url = new URL(`http://${address}`);
    this.host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    this.port = Number(url.port);
    this.hostHeader = url.host;
    this.gets = new PlanePool(this.host, this.port, IDLE_SOCKET_MS);
    this.headers = { [NODE_ID_HEADER]: nodeId, ...(opts.clusterSecret ? { [CLUSTER_SECRET_HEADER]: opts.clusterSecret } : {}) };
  }

  /**
   * Rejects (NotFoundError...) before the first byte; then streams the range, checked by the node's
   * trailer. The node's line about it names `requestId`.
   */
  async read(blobId: string, offset: number, length: number | undefined, requestId?: RequestId): Promise<BlobReader> {
    const path = `${BLOB_PATH}${encodeURIComponent(blobId)}?offset=${offset}${length === undefined ? "" : `&length=${length}`}`;
    const res = await this.get(path, requestId);
    if (res.status !== 200) throw errorFromFields(res.headers, `node ${this.nodeId} answered a blob read with HTTP ${res.status}`)!;
    const info = res.headers[BLOB_INFO_HEADER];
    if (typeof info !== "string") {
      res.cancel();
      throw new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.nodeId} sent no blob info`);
    }
    const meta = decodeBlobInfo(info);
    const blockCrc = decodeBlockCrc(res.headers[BLOCK_CRC_FIELD]);
    // Its chunks are slices of reused read buffers: handed back (recycle) once written on.
    return {
      meta,
      ...clampRange(meta.size, offset, length),
      chunks: this.chunksOf(res),
      recycle: recycleChunk,
      ...(blockCrc === undefined ? {} : { blockCrc }),
    };
  }

  close(): void {
    this.agent.destroy();
    this.gets.close();
  }

  /**
   * Sends a GET on a kept-alive connection of its own and waits, under the start deadline, for the
   * response's head. BlobPlaneUnsupported when the node does not speak HTTP/1.1 on its port.
   */
  private async get(path: string, requestId: RequestId): Promise<PlaneResponse> {
    let request = `GET ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n`;
    const headers = { ...this.headers, ...(requestId === undefined ? {} : { [REQUEST_ID_HEADER]: requestId }) };
    for (const [name, value] of Object.entries(headers)) {
      if (/[\r\n]/.test(value)) throw new MiniS3Error(ErrorCode.InvalidArgument, `header ${name} holds a line break`);
      request += `${name}: ${value}\r\n`;
    }
    request += "\r\n";
    for (let attempt = 0; ; attempt++) {
      const conn = this.gets.take();
      const reused = conn.uses > 0;
      const res = conn.get(request, BODY_BUFFER_BYTES);
      const start = new ProgressDeadline(this.opts.deadlineMs, () => conn.destroy());
      try {
        await start.around(res.head);
        return res;
      } catch (e) {
        conn.destroy();
        if (start.expired)
          throw new MiniS3Error(
            ErrorCode.NodeUnavailable,
            `node ${this.nodeId} did not start a blob read within ${this.opts.deadlineMs} ms`,
          );
        const code = (e as NodeJS.ErrnoException).code ?? "";
        // A kept-alive connection the node closed as we reused it: once more, on a new one.
        if (reused && !res.answered && (code === "ECONNRESET" || code === "EPIPE") && attempt === 0) continue;
        if (code.startsWith("HPE_") || code === "ECONNRESET")
          throw new BlobPlaneUnsupported(`node ${this.nodeId}: ${(e as Error).message}`);
        throw this.transportError(e);
      }
    }
  }

  /**
   * Sends a request and waits, under the start deadline, for the node's first answer: its response,
   * or for a PUT (which asks for "100 Continue") the go-ahead to send the body (`res` undefined).
   * BlobPlaneUnsupported when the node does not speak HTTP/1.1 on its port.
   */
  async request(
    method: "GET" | "PUT",
    path: string,
    extra: Record<string, string>,
    requestId: RequestId,
  ): Promise<{ req: http.ClientRequest; res?: http.IncomingMessage }> {
    const headers = { ...this.headers, ...extra, ...(requestId === undefined ? {} : { [REQUEST_ID_HEADER]: requestId }) };
    const what = method === "GET" ? "read" : "write";
    for (let attempt = 0; ; attempt++) {
      const req = http.request({ host: this.host, port: this.port, method, path, agent: this.agent, headers });
      const start = new ProgressDeadline(this.opts.deadlineMs, () => req.destroy());
      try {
        const res = await start.around(
          new Promise<http.IncomingMessage | undefined>((resolve, reject) => {
            req.once("response", resolve);
            req.once("error", reject);
            if (method === "GET") req.end();
            else {
              req.once("continue", () => resolve(undefined));
              req.flushHeaders();
            }
          }),
        );
        return { req, res };
      } catch (e) {
        req.destroy();
        if (start.expired)
          throw new MiniS3Error(
            ErrorCode.NodeUnavailable,
            `node ${this.nodeId} did not start a blob ${what} within ${this.opts.deadlineMs} ms`,
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
  private chunksOf(res: PlaneResponse): AsyncIterable<Buffer> {
    const idle = new ProgressDeadline(this.opts.idleMs, () => res.cancel());
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        res.cancel();
      }
    };
    const iterator: AsyncIterator<Buffer> = {
      next: async () => {
        if (done) return { done: true, value: undefined };
        try {
          const chunk = res.take() ?? (await idle.around(res.next()));
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

  transportError(e: unknown): MiniS3Error {
    return isMiniS3Error(e) ? e : new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.nodeId}: ${(e as Error).message}`);
  }
}
