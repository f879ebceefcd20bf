// What becomes of a request body the HTTP doors answer before reading it to its end (a refusal, a
// 413, an upload that failed midway). Node either reads all of it to keep the connection (unbounded:
// a refused 5 GiB upload is read to its end) or, with `connection: close`, closes the socket as soon
// as the answer is out, on bytes the client is still sending: a TCP reset. Most clients read the
// answer only once their body is sent (Python's http.client, many SDKs' simple PUTs), and their
// write fails on the reset first: they see EPIPE or ECONNRESET, never the 413 or 503 that says why
// (2026-12-06: the S3 door's 403 to an 8 or 64 MiB PUT sent whole before reading, 0 answers in 5 tries;
// the facade's 413 and a failed upload's 503 the same in its tests).
//
// Here a small rest is read and the connection kept; a larger one gets `connection: close` and a
// lingering close, as web servers do: our side's FIN after the answer, what the client still sends read
// and dropped until its body ends, it closes, or a bound is reached; only then is the socket closed.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";

/** A body with at most this many bytes declared is read and dropped, and the connection kept. */
export const DRAIN_LIMIT = 64 * 1024;
/** Past this long after the answer, a closing connection's client has had the time to read it: the socket is closed. */
export const LINGER_MS = 2_000;
/** Past this many bytes read and dropped, a closing connection is cut (~20 ms of CPU at loopback rates). */
export const LINGER_BYTES = 64 * 1024 * 1024;

export interface EarlyAnswer {
  /** `Expect: 100-continue` not answered: the client has not started its body, and the connection is not reused. */
  goAheadWithheld?: boolean;
}

/**
 * Call before writing an answer to a request whose body may be unread. The rest of the body is read
 * and dropped from now on (whatever reader had it is detached). A request that is already complete
 * is left as it is.
 */
export function settleUnreadBody(raw: IncomingMessage, res: ServerResponse, opts: EarlyAnswer = {}): void {
  const declared = Number(raw.headers["content-length"] ?? NaN);
  // A request answered within its 'request' event is not complete yet even when it has no body at all.
  if (raw.complete || (!(declared > 0) && raw.headers["transfer-encoding"] === undefined)) return;
  const keep = res.shouldKeepAlive && opts.goAheadWithheld !== true && declared <= DRAIN_LIMIT;
  if (!keep) res.shouldKeepAlive = false; // the answer says `connection: close`
  const socket = raw.socket as Socket | null;
  const linger = keep || socket === null ? undefined : new LingeringClose(socket);
  dropRest(raw, linger);
}

/** Detaches any reader of `raw` (an upload's abandoned iterator, busboy) and reads the rest into nothing. */
function dropRest(raw: IncomingMessage, linger: LingeringClose | undefined): void {
  raw.removeAllListeners("readable");
  raw.removeAllListeners("data");
  raw.on("data", linger ? (chunk: Buffer) => linger.dropped(chunk.length) : () => undefined);
  if (linger) raw.once("end", () => linger.bodyEnded());
  // With 'readable' listeners just removed, node makes the stream flow on the next tick (it sees the 'data' listener).
  raw.resume();
}

/**
 * Closes the socket once the answer is out and the client is done, or a bound is reached. node:http
 * ends a `connection: close` answer's socket with `destroySoon()` (its resOnFinish, Node 20); this
 * socket's own `destroySoon` takes its place. The front doors' tests send whole bodies before reading
 * the answer, so they fail if node stops calling it.
 */
class LingeringClose {
  private answered = false;
  private bodyDone = false;
  private bytes = 0;

  constructor(private readonly socket: Socket) {
    socket.destroySoon = () => this.answerOut();
  }

  dropped(n: number): void {
    this.bytes += n;
    if (this.bytes > LINGER_BYTES && this.answered) this.socket.destroy();
  }

  bodyEnded(): void {
    this.bodyDone = true;
    if (this.answered) this.close();
  }

  private answerOut(): void {
    this.answered = true;
    if (this.bodyDone || this.bytes > LINGER_BYTES) {
      this.close();
      return;
    }
    this.socket.end(); // our FIN: the client reads the answer, then the end
    const bound = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.socket.once("close", () => clearTimeout(bound));
  }

  /** Nothing unread is left: node's own close (end, then destroy once the answer is flushed). */
  private close(): void {
    Socket.prototype.destroySoon.call(this.socket);
  }
}
