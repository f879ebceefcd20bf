// Reads a client-streaming gRPC call as a pull-based sequence. A small queue sits between the
// call and the consumer: the call is paused while the queue is full and resumed as it drains, so
// a fast client cannot make us buffer more than a few messages (plus grpc-js's own read-ahead).
import type { ServerReadableStream } from "@grpc/grpc-js";
import { AbortedError } from "../../common/errors";
import { requestStreamReset } from "./grpc-stream-reset";

/**
 * How long after the request stream's end a cancel may still arrive and undo it. grpc-js's own
 * client cancels by ending the stream (END_STREAM: exactly the bytes written so far) and then
 * resetting it (RST_STREAM), which reaches the server a separate read later: measured 0.15–6.7 ms
 * after 'end' at load 15 (20 cancels, each one event-loop turn or more). Waited out in parallel
 * with the replicas' last writes and fsync, which take longer, so it rarely delays a commit.
 */
const CANCEL_GRACE_MS = 25;

export class CallReader<T> {
  private readonly queue: T[] = [];
  private ended = false;
  private endedAt = 0;
  /** confirmEnd() accepted the end: a later cancel no longer matters. */
  private confirmed = false;
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
      this.endedAt = performance.now();
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
        // A cancel that came first (RST_STREAM before the end) is already on the http2 stream,
        // though grpc-js reports it only a few turns later (grpc-stream-reset.ts).
        if (requestStreamReset(this.call)) this.fail(new AbortedError("the client cancelled the upload"));
        if (this.failure) throw this.failure;
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /**
   * Call once the body has ended, just before committing it: resolves once that end is known to be
   * the client's half-close, throws if a cancel came with it (see CANCEL_GRACE_MS).
   */
  async confirmEnd(): Promise<void> {
    if (!this.ended) throw new AbortedError("the upload stream has not ended");
    const wait = this.endedAt + CANCEL_GRACE_MS - performance.now();
    if (wait > 0) await new Promise<void>((resolve) => setTimeout(resolve, wait));
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (requestStreamReset(this.call)) this.fail(new AbortedError("the client cancelled the upload"));
    if (this.failure) throw this.failure;
    this.confirmed = true;
  }

  private fail(e: Error): void {
    if (this.confirmed || this.failure) return;
    this.failure = e;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
