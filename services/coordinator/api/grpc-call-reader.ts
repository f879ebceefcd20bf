// Reads a client-streaming gRPC call as a pull-based sequence. A small queue sits between the
// call and the consumer: the call is paused while the queue is full and resumed as it drains, so
// a fast client cannot make us buffer more than a few messages (plus grpc-js's own read-ahead).
import type { ServerReadableStream } from "@grpc/grpc-js";
import { AbortedError } from "../../common/errors";

export class CallReader<T> {
  private readonly queue: T[] = [];
  private ended = false;
  /** The consumer was told the stream ended: a later cancel no longer matters. */
  private delivered = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly call: ServerReadableStream<T, unknown>,
    private readonly maxQueued = 4,
  ) {
    call.on("data", (message: T) => {
      this.queue.push(message);
      if (this.queue.length >= this.maxQueued) call.pause();
      this.notify();
    });
    call.on("end", () => {
      this.ended = true;
      this.notify();
    });
    call.on("error", (e: Error) => this.fail(new AbortedError(`upload stream failed: ${e.message}`)));
    call.on("cancelled", () => this.fail(new AbortedError("the client cancelled the upload")));
    // grpc-js destroys the stream on cancel; a close before the end is a cut-short upload either way.
    call.on("close", () => this.fail(new AbortedError("the upload stream closed before its end")));
  }

  /** The next message; undefined after the client's half-close. Throws once the call failed. */
  async next(): Promise<T | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.queue.length > 0) {
        const message = this.queue.shift() as T;
        if (this.queue.length <= this.maxQueued / 2 && this.call.isPaused()) this.call.resume();
        return message;
      }
      if (this.ended) {
        // A client's cancel (RST_STREAM) first ends the http2 stream like a half-close, and only
        // then reports the cancel, a few ticks later: wait for it, or a cut-short upload would be
        // committed as if it were complete.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.failure) throw this.failure;
        this.delivered = true;
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private fail(e: Error): void {
    if (this.delivered || this.failure) return;
    this.failure = e;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
