import * as net from "node:net";

// A blob-plane GET read straight from the socket (net `onread`) into reused read buffers, instead
// of node:http's client. node:http gives each socket read a fresh 64 KiB ArrayBuffer and then copies
// every body piece of it into another fresh Buffer (its parser's on_body is a Buffer::Copy in Node
// 20): two allocations and one copy per 64 KiB relayed, which V8 counts toward its next mark-compact
// (bench/README.md, "Large reads: the coordinator's relay"). Here a body chunk is a slice of a read
// buffer, handed back (recycleChunk) by whoever wrote it on, in its write callback, and read into
// again once every slice of it came back. A consumer that hands nothing back gets correct bytes too:
// a buffer is refilled only once all its slices were handed back, never before.
//
// The node's answer is HTTP/1.1 (server/blob-http-server.ts): a status line, headers, then a
// chunked body with trailers (the node's verdict), or a refusal. Only what that server sends is
// understood; anything else fails the read (the caller resumes on another replica).

/** One socket read's buffer: loopback reads of the node's 256 KiB writes come in 64 KiB. */
const READ_BYTES = 64 * 1024;
/** Read buffers handed back and kept for later reads, for all sockets together (2 MiB). */
const FREE_KEPT = 32;
/** A response's head (status line and headers) or trailers longer than this is refused. */
const MAX_HEAD_CHARS = 64 * 1024;

interface Lent {
  buf: Buffer;
  /** Body slices of it not handed back yet. */
  refs: number;
}

const lent = new WeakMap<ArrayBufferLike, Lent>();
const free: Buffer[] = [];

function readBuffer(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(READ_BYTES);
}

function keep(buf: Buffer): void {
  if (free.length < FREE_KEPT) free.push(buf);
}

/**
 * Hands a body chunk of a blob-plane GET back once no byte of it is needed any more (for a socket
 * write: in its callback, never on write()'s return), at most once. Any other Buffer is ignored.
 */
export function recycleChunk(chunk: Buffer): void {
  const e = lent.get(chunk.buffer);
  if (!e) return;
  if (--e.refs === 0) {
    lent.delete(chunk.buffer);
    keep(e.buf);
  }
}

/** An error before the response's head, with the code node:http would give it. */
export class PlaneSocketError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

type State = "head" | "size" | "data" | "crlf" | "trailer" | "length" | "done";

/** One GET's response as it comes off the socket: its head, then its body's slices. */
export class PlaneResponse {
  status = 0;
  headers: Record<string, string> = {};
  trailers: Record<string, string> = {};
  /** Some byte of the response came (a reused socket that fails before is tried again). */
  answered = false;
  private state: State = "head";
  private text = "";
  private left = 0;
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private failure?: Error;
  private wake?: () => void;
  private headDone!: () => void;
  private headFailed!: (e: Error) => void;
  /** Settles once the head is here (or the socket failed before it). */
  readonly head = new Promise<void>((resolve, reject) => {
    this.headDone = () => resolve();
    this.headFailed = reject;
  });

  constructor(
    private readonly conn: PlaneConnection,
    private readonly maxBytes: number,
  ) {}

  get ended(): boolean {
    return this.state === "done";
  }

  /** Stops a response that has not ended: its connection is closed, not reused. */
  cancel(): void {
    if (this.state !== "done") this.conn.destroy();
  }

  /** Parses one socket read; false to pause the socket (enough body queued). */
  feed(buf: Buffer, n: number): boolean {
    this.answered = true;
    let at = 0;
    let refs = 0;
    try {
      while (at < n) {
        switch (this.state) {
          case "head": {
            // A few KiB at a time: the head is short and the body's first bytes follow it.
            const stop = Math.min(n, at + 4096);
            const before = this.text.length;
            this.text += buf.toString("latin1", at, stop);
            const end = this.text.indexOf("\r\n\r\n", Math.max(0, before - 3));
            if (end < 0) {
              if (this.text.length > MAX_HEAD_CHARS) throw new PlaneSocketError("response head too long", "HPE_HEADER_OVERFLOW");
              at = stop;
              break;
            }
            at += end + 4 - before;
            this.parseHead(this.text.slice(0, end));
            this.text = "";
            break;
          }
          case "size": {
            const lf = buf.indexOf(0x0a, at);
            const stop = lf < 0 || lf >= n ? n : lf + 1;
            this.text += buf.toString("latin1", at, stop);
            at = stop;
            if (this.text.length > 1024) throw new PlaneSocketError("chunk size line too long", "HPE_INVALID_CHUNK_SIZE");
            if (!this.text.endsWith("\r\n")) break;
            const hex = this.text.slice(0, -2).split(";")[0].trim();
            this.text = "";
            if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new PlaneSocketError(`bad chunk size "${hex}"`, "HPE_INVALID_CHUNK_SIZE");
            this.left = parseInt(hex, 16);
            this.state = this.left === 0 ? "trailer" : "data";
            break;
          }
          case "data":
          case "length": {
            const take = Math.min(this.left, n - at);
            this.chunks.push(buf.subarray(at, at + take));
            this.bytes += take;
            refs++;
            this.left -= take;
            at += take;
            if (this.left === 0) {
              if (this.state === "length") this.finish();
              else {
                this.state = "crlf";
                this.left = 2;
              }
            }
            break;
          }
          case "crlf": {
            if (buf[at] !== (this.left === 2 ? 0x0d : 0x0a)) throw new PlaneSocketError("chunk not ended by CRLF", "HPE_STRICT");
            at++;
            if (--this.left === 0) this.state = "size";
            break;
          }
          case "trailer": {
            const before = this.text.length;
            this.text += buf.toString("latin1", at, n);
            if (this.text.length > MAX_HEAD_CHARS) throw new PlaneSocketError("trailers too long", "HPE_HEADER_OVERFLOW");
            const end = this.text.startsWith("\r\n") ? 0 : this.text.indexOf("\r\n\r\n", Math.max(0, before - 3));
            if (end < 0) {
              at = n;
              break;
            }
            const used = end === 0 ? 2 : end + 4;
            at += used - before;
            this.trailers = end === 0 ? {} : fields(this.text.slice(0, end).split("\r\n"));
            this.text = "";
            this.finish();
            break;
          }
          case "done":
            // Bytes after the response: nothing was asked for them. The connection is not reused.
            throw new PlaneSocketError("bytes after the response", "HPE_INVALID_CONSTANT");
        }
      }
    } catch (e) {
      this.fail(e as Error);
      this.conn.destroy();
      return false;
    } finally {
      if (refs) lent.set(buf.buffer, { buf, refs });
      else keep(buf);
      if (refs || this.state === "done") this.wake?.();
    }
    if (this.state === "done") this.conn.release(this);
    return this.bytes < this.maxBytes;
  }

  /** The socket failed or closed: before the end, the read fails. */
  fail(e: Error): void {
    if (this.state === "done") return;
    this.failure ??= e;
    if (this.status === 0) this.headFailed(this.failure);
    this.wake?.();
  }

  /** A chunk already here, or undefined. */
  take(): Buffer | undefined {
    const chunk = this.chunks.shift();
    if (chunk === undefined) return undefined;
    this.bytes -= chunk.length;
    if (this.bytes < this.maxBytes) this.conn.resume();
    return chunk;
  }

  /** The next chunk when it comes; undefined at the body's end; throws if the body was cut. */
  async next(): Promise<Buffer | undefined> {
    for (;;) {
      const chunk = this.take();
      if (chunk) return chunk;
      if (this.state === "done") return undefined;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  private parseHead(head: string): void {
    const lines = head.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]);
    if (!m) throw new PlaneSocketError(`not an HTTP/1.1 answer: ${JSON.stringify(lines[0].slice(0, 40))}`, "HPE_INVALID_CONSTANT");
    this.headers = fields(lines.slice(1));
    this.status = Number(m[1]);
    const chunked = /\bchunked\b/i.test(this.headers["transfer-encoding"] ?? "");
    const length = this.headers["content-length"];
    if (this.status !== 200) {
      // A refusal: its head says why; its body is not read and the connection is not reused.
      this.state = "done";
      this.conn.destroy();
    } else if (chunked) this.state = "size";
    else if (length !== undefined && /^\d+$/.test(length)) {
      this.left = Number(length);
      this.state = "length";
      if (this.left === 0) this.finish();
    } else throw new PlaneSocketError("a blob read's answer with no length", "HPE_UNEXPECTED_CONTENT_LENGTH");
    this.headDone();
  }

  private finish(): void {
    this.state = "done";
  }
}

function fields(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new PlaneSocketError(`bad header line ${JSON.stringify(line.slice(0, 40))}`, "HPE_INVALID_HEADER_TOKEN");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    out[name] = name in out ? `${out[name]}, ${value}` : value;
  }
  return out;
}

/** One kept-alive connection to a node's blob plane, reading into the shared read buffers. */
export class PlaneConnection {
  readonly socket: net.Socket;
  /** Requests sent on it so far. */
  uses = 0;
  private current?: PlaneResponse;
  private paused = false;
  private idleTimer?: NodeJS.Timeout;

  constructor(
    host: string,
    port: number,
    private readonly pool: PlanePool,
  ) {
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (n: number, buf: Uint8Array) => this.onRead(n, buf as Buffer),
      },
    });
    this.socket.on("error", (e) => this.current?.fail(e));
    this.socket.on("close", () => {
      this.current?.fail(new PlaneSocketError("socket hang up", "ECONNRESET"));
      this.current = undefined;
      pool.forget(this);
    });
  }

  /** Sends a GET; the response's head settles `head`, its body follows. */
  get(request: string, maxBytes: number): PlaneResponse {
    clearTimeout(this.idleTimer);
    this.uses++;
    const r = new PlaneResponse(this, maxBytes);
    this.current = r;
    this.resume();
    this.socket.write(request);
    return r;
  }

  /** The response ended: the connection may carry the next request. */
  release(r: PlaneResponse): void {
    if (this.current !== r) return;
    this.current = undefined;
    if (r.headers.connection?.toLowerCase() === "close" || r.status !== 200) return this.destroy();
    this.resume();
    this.pool.idle(this);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  destroy(): void {
    clearTimeout(this.idleTimer);
    this.socket.destroy();
  }

  /** While idle, closed after `ms` (before the node would close it). */
  idleFor(ms: number): void {
    this.idleTimer = setTimeout(() => this.destroy(), ms);
    this.idleTimer.unref();
  }

  private onRead(n: number, buf: Buffer): boolean {
    const r = this.current;
    if (!r) {
      // Nothing asked: the connection is in a state this side does not know. Not reused.
      keep(buf);
      this.destroy();
      return false;
    }
    if (r.feed(buf, n)) return true;
    if (this.current === r && !r.ended) this.paused = true;
    return !this.paused;
  }
}

/** The kept-alive connections to one node, the last one used first. */
export class PlanePool {
  private readonly idleConns: PlaneConnection[] = [];
  private readonly all = new Set<PlaneConnection>();
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly idleMs: number,
  ) {}

  /** An idle connection, or a new one. */
  take(): PlaneConnection {
    const reused = this.idleConns.pop();
    if (reused) return reused;
    const conn = new PlaneConnection(this.host, this.port, this);
    this.all.add(conn);
    if (this.closed) conn.destroy();
    return conn;
  }

  idle(conn: PlaneConnection): void {
    if (this.closed) return conn.destroy();
    conn.idleFor(this.idleMs);
    this.idleConns.push(conn);
  }

  forget(conn: PlaneConnection): void {
    this.all.delete(conn);
    const i = this.idleConns.indexOf(conn);
    if (i >= 0) this.idleConns.splice(i, 1);
  }

  close(): void {
    this.closed = true;
    for (const conn of this.all) conn.destroy();
  }
}
