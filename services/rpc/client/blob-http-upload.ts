import type * as http from "node:http";
import { AbortedError, ErrorCode, isMiniS3Error, MiniS3Error } from "../../common/errors";
import type { RequestId } from "../../common/request-context";
import type { BlobMeta, WireCheck } from "../blob-backend";
import {
  ATTRIBUTES_HEADER,
  BLOB_INFO_HEADER,
  BLOB_PATH,
  BLOCK_CRC_CHECK,
  BLOCK_CRC_FIELD,
  encodeBlockCrc,
  CHECK_HEADER,
  decodeBlobInfo,
  encodeAttributes,
  errorFromFields,
  SHA256_FIELD,
  SIZE_FIELD,
} from "../blob-plane";
import { type BlobHttpClient, BlobPlaneUnsupported } from "./blob-http-client";
import type { BlobUpload } from "./blob-upload";
import { ProgressDeadline } from "./progress-deadline";

const PUT_TRAILER = `${SIZE_FIELD}, ${SHA256_FIELD}`;
/** The trailer of an upload checked by its block crc32s (`check` "blockCrc"). */
const BLOCK_CRC_TRAILER = `${PUT_TRAILER}, ${BLOCK_CRC_FIELD}`;

/**
 * One blob written to a node over its blob plane (rpc/blob-plane.ts): a PUT that waits for "100
 * Continue" (the node's checks passed) before its first byte, a chunked body written straight from
 * the caller's buffers (no framing copy, no joining copy on the node), the size and sha256 in its
 * trailer, the node's commit in the answer. Deadlines as WriteBlob's: the node's go-ahead within
 * deadlineMs, then idleMs for each wait for room in the socket (a write returns only once its
 * chunk has left this process: a window of one chunk per replica), then commitMs from the moment
 * the last byte left. A node that does not speak the plane is written over WriteBlob (`fallback`)
 * instead, before any byte was sent. With `check` "blockCrc" the header says so and the trailer also
 * carries the fold of the body's block crc32s, which the node checks instead of hashing the body.
 */
export class BlobHttpUpload implements BlobUpload {
  private readonly started: Promise<void>;
  private req?: http.ClientRequest;
  /** The node's answer: its commit, or the error that ended the call. */
  private answer?: Promise<BlobMeta>;
  /** The WriteBlob upload that stands in when the node does not speak the plane. */
  private instead?: BlobUpload;
  private failure?: MiniS3Error;
  private state: "open" | "finishing" | "aborted" = "open";
  private readonly idle: ProgressDeadline;
  /** Set while a write waits for room: a failure ends the wait at once. */
  private wake?: () => void;

  constructor(
    private readonly plane: BlobHttpClient,
    blobId: string,
    attributes: Record<string, string>,
    requestId: RequestId,
    private readonly fallback: () => BlobUpload,
    private readonly check: WireCheck = "sha256",
  ) {
    const { idleMs } = plane.opts;
    this.idle = new ProgressDeadline(idleMs, () => this.stuck(`node ${plane.nodeId} took no data for ${idleMs} ms (blob write)`));
    this.started = this.start(blobId, attributes, requestId);
    this.started.catch(() => undefined); // surfaced through write()/finish()
  }

  async write(chunk: Buffer): Promise<void> {
    const req = this.req ?? (await this.opened());
    if (!req) return this.instead!.write(chunk);
    this.assertOpen();
    await this.sent(req, chunk);
    this.assertOpen();
  }

  async finish(size: number, sha256: Buffer, blockCrc?: number): Promise<BlobMeta> {
    const req = this.req ?? (await this.opened());
    if (!req) return this.instead!.finish(size, sha256);
    this.assertOpen();
    if (this.check === "blockCrc" && blockCrc === undefined)
      throw new MiniS3Error(ErrorCode.Internal, "an upload checked by block crc32 finished without its crc32");
    this.state = "finishing";
    const answer = this.answer!;
    const trailer: Record<string, string> = { [SIZE_FIELD]: String(size), [SHA256_FIELD]: sha256.toString("hex") };
    if (this.check === "blockCrc") trailer[BLOCK_CRC_FIELD] = encodeBlockCrc(blockCrc!);
    req.addTrailers(trailer);
    const { nodeId, opts } = this.plane;
    try {
      // The commit deadline starts once the last byte has left this process, not while the body
      // still waits in its buffer (ARCHITECTURE.md "Known gaps": WriteBlob's started earlier).
      await this.idle.around(Promise.race([new Promise<void>((resolve) => req.end(resolve)), answer]));
      const commit = new ProgressDeadline(opts.commitMs, () =>
        this.stuck(`node ${nodeId} did not commit within ${opts.commitMs} ms (blob write)`),
      );
      return await commit.around(answer);
    } catch (e) {
      throw this.failure ?? this.plane.transportError(e);
    }
  }

  abort(): void {
    if (this.state === "aborted") return;
    this.state = "aborted";
    this.instead?.abort();
    // A body cut before its trailer: the node discards what it got.
    this.req?.destroy();
  }

  /** The request once the node let the body come; undefined when WriteBlob stands in. */
  private async opened(): Promise<http.ClientRequest | undefined> {
    await this.started;
    return this.req;
  }

  private async start(blobId: string, attributes: Record<string, string>, requestId: RequestId): Promise<void> {
    const path = `${BLOB_PATH}${encodeURIComponent(blobId)}`;
    const headers: Record<string, string> = {
      [ATTRIBUTES_HEADER]: encodeAttributes(blobId, attributes),
      expect: "100-continue",
      trailer: this.check === "blockCrc" ? BLOCK_CRC_TRAILER : PUT_TRAILER,
    };
    if (this.check === "blockCrc") headers[CHECK_HEADER] = BLOCK_CRC_CHECK;
    let opened: { req: http.ClientRequest; res?: http.IncomingMessage };
    try {
      opened = await this.plane.request("PUT", path, headers, requestId);
    } catch (e) {
      if (!(e instanceof BlobPlaneUnsupported)) throw (this.failure = this.plane.transportError(e));
      this.instead = this.fallback();
      if (this.state === "aborted") this.instead.abort();
      return;
    }
    const { req, res } = opened;
    if (this.state === "aborted") {
      req.destroy();
      throw new AbortedError("upload aborted");
    }
    if (res) {
      // Refused before the body (the cluster secret, another node's id, a blob it cannot take).
      res.resume();
      throw (this.failure = this.refusal(res));
    }
    this.answer = new Promise<BlobMeta>((resolve, reject) => {
      req.once("response", (r: http.IncomingMessage) => {
        r.resume();
        const info = r.headers[BLOB_INFO_HEADER];
        if (r.statusCode === 200 && typeof info === "string") resolve(decodeBlobInfo(info));
        else reject(this.refusal(r));
      });
      req.once("error", (e) => reject(this.plane.transportError(e)));
      req.once("close", () =>
        reject(new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.plane.nodeId} closed a blob write before its answer`)),
      );
    });
    // An answer before the trailer is the node's error (a disk that failed, say): it ends the upload.
    this.answer.catch((e: unknown) => {
      this.failure ??= isMiniS3Error(e) ? e : this.plane.transportError(e);
      this.wake?.();
    });
    this.req = req;
  }

  private refusal(res: http.IncomingMessage): MiniS3Error {
    return (
      errorFromFields(res.headers, `node ${this.plane.nodeId} answered a blob write with HTTP ${res.statusCode}`) ??
      new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.plane.nodeId} answered a blob write before its end`)
    );
  }

  /** A deadline expired: the call fails with `why` (NodeUnavailable: the node is stuck, as good as unreachable). */
  private stuck(why: string): void {
    this.failure ??= new MiniS3Error(ErrorCode.NodeUnavailable, why);
    this.req?.destroy();
    this.wake?.();
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    if (this.state === "aborted") throw new AbortedError("upload aborted");
    if (this.state === "finishing") throw new AbortedError("upload already finished");
  }

  /**
   * Writes the chunk and waits until it has left this process (its write callback: "drain" alone
   * could come while a chunk below the socket's high-water mark still waited in the buffer), or
   * for the call to fail. The caller may then refill the chunk (the replica writer does).
   */
  private sent(req: http.ClientRequest, chunk: Buffer): Promise<void> {
    return this.idle.around(
      new Promise<void>((resolve) => {
        const done = () => {
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        req.write(chunk, done);
      }),
    );
  }
}
