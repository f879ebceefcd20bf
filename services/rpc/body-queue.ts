import type { Readable } from "node:stream";
import { ownBodyPiece } from "../common/body-pieces";
import { countFreshBodyBytes } from "../common/young-gc-pacer";

/**
 * An HTTP body (a blob plane PUT's request on the node; the coordinator reads a GET's response off
 * its socket itself: client/blob-http-get.ts) as the chunks its socket reads gave ('data' events),
 * at most `maxBytes` held before the stream is paused
 * (backpressure to the sender). Not the stream's async iterator: its read() joins whatever is
 * buffered into one new Buffer, a copy of every byte that took 190 ms of the 64 MiB read's ~1 s of
 * client CPU (--cpu-prof, 2026-12-01).
 */
export class BodyQueue {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private failure?: Error;
  private wake?: () => void;

  constructor(
    private readonly body: Readable,
    private readonly maxBytes: number,
  ) {
    body.on("data", (chunk: Buffer) => {
      // node:http's own copy of a socket read: freed by the reader once written (body-pieces.ts).
      this.chunks.push(ownBodyPiece(chunk));
      this.bytes += chunk.length;
      countFreshBodyBytes(chunk.length);
      if (this.bytes >= maxBytes) body.pause();
      this.wake?.();
    });
    body.once("end", () => {
      this.ended = true;
      this.wake?.();
    });
    body.once("error", (e) => {
      this.failure ??= e;
      this.wake?.();
    });
    body.once("close", () => {
      if (!this.ended) this.failure ??= new Error("the body was cut before its end");
      this.wake?.();
    });
  }

  /** Chunks already here. */
  get queued(): number {
    return this.chunks.length;
  }

  /** A chunk already here, or undefined. */
  take(): Buffer | undefined {
    const chunk = this.chunks.shift();
    if (chunk === undefined) return undefined;
    this.bytes -= chunk.length;
    if (this.bytes < this.maxBytes && this.body.isPaused()) this.body.resume();
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
