import { createHash, hash, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import type { Dispatcher, Pool } from "undici";
import type { HashedBody } from "./socket-get";

// One request on the bench's undici pool, its answer read by a handler of our own rather than by
// `pool.request()`: that wraps every body in a Readable the caller then reads with an async
// iterator, and parses the response headers into an object the bench never looks at. For a 4 KiB
// object that machinery was most of the bench's own CPU per operation (bench/README.md "The bench
// client's own CPU per small operation"). The bytes sent are the same: undici still writes the
// request, keeps the connection alive and enforces the head and body timeouts; only how the answer
// is read differs. A 200's body is hashed as it arrives (sha256, like every body read), others'
// bodies are drained and dropped.

export interface Call {
  path: string;
  method: "GET" | "PUT" | "POST" | "DELETE";
  headers: Record<string, string>;
  /** An async iterable is written as undici's docs say (its typings list only Readable): each chunk corked, the next asked for at 'drain'. */
  body?: Buffer | Readable | AsyncIterable<Buffer>;
  /** Hash a 200's body (a GET to verify); otherwise it is drained unread. */
  hashBody?: boolean;
}

/** A body other than a hashed 200's is read this far and then the connection dropped (as `body.dump({ limit })`). */
const DRAIN_LIMIT = 1 << 20;

/** Sends `call` on the pool and resolves with its answer once the last byte is in; rejects as undici does (ECONNRESET, timeouts…). */
export function send(pool: Pool, call: Call): Promise<HashedBody> {
  return new Promise<HashedBody>((resolve, reject) => {
    pool.dispatch(
      { path: call.path, method: call.method, headers: call.headers, body: call.body as Buffer | Readable | undefined },
      new AnswerHandler(call.hashBody === true, resolve, reject),
    );
  });
}

/**
 * undici's own handler interface (onConnect/onHeaders/onData/onComplete/onError): the one its
 * HTTP/1.1 client calls directly. The newer onRequestStart/onResponse* interface is adapted onto it
 * per request (an UnwrapHandler, a controller, and the raw headers parsed into an object).
 */
class AnswerHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private bytes = 0;
  /** The body's only chunk so far: a small body (one chunk, mostly) is hashed in one call. */
  private first?: Buffer;
  private hash?: Hash;
  private abort?: (err?: Error) => void;
  /** We dropped the connection after DRAIN_LIMIT bytes of an unhashed body: the answer stands. */
  private drained = false;

  constructor(
    private readonly hashBody: boolean,
    private readonly resolve: (a: HashedBody) => void,
    private readonly reject: (e: Error) => void,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
  }

  onHeaders(statusCode: number): boolean {
    if (statusCode >= 200) this.status = statusCode; // 1xx: informational, the answer follows
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.hashBody && this.status === 200) {
      if (this.hash) this.hash.update(chunk);
      else if (!this.first) this.first = chunk;
      else {
        this.hash = createHash("sha256").update(this.first).update(chunk);
        this.first = undefined;
      }
    } else if (this.bytes > DRAIN_LIMIT && !this.drained) {
      this.drained = true;
      this.abort?.(new Error("body past the drain limit"));
    }
    return true;
  }

  onComplete(): void {
    if (!(this.hashBody && this.status === 200)) return this.resolve({ status: this.status, bytes: this.bytes });
    const digest = this.hash ? this.hash.digest("hex") : hash("sha256", this.first ?? Buffer.alloc(0), "hex");
    this.resolve({ status: 200, bytes: this.bytes, sha256: digest });
  }

  onError(err: Error): void {
    if (this.drained) this.resolve({ status: this.status, bytes: this.bytes });
    else this.reject(err);
  }
}
