import { Readable } from "node:stream";
import { Pool } from "undici";
import { authorizationFor } from "../deploy/launcher/client-credentials";
import { send } from "./dispatch";
import { SocketGetter, type HashedBody } from "./socket-get";

// The bench's HTTP side: one keep-alive connection pool to the coordinator (undici), and for the
// large phases' GETs connections of their own (socket-get.ts); every body read is hashed (sha256) as
// it arrives, never collected (dispatch.ts).

export interface Outcome {
  ok: boolean;
  /** Why it failed: "http 503", "checksum mismatch", "ECONNRESET"… */
  reason?: string;
  status?: number;
}

export interface RetrieveOutcome extends Outcome {
  bytes: number;
  sha256?: string;
}

const q = (key: string) => encodeURIComponent(key);

export function failure(e: unknown): Outcome {
  const err = e as { code?: string; name?: string; message?: string };
  return { ok: false, reason: err.code ?? err.name ?? err.message ?? "error" };
}

/** What the workloads need of a front door: the facade (MiniS3Client) or S3 (S3BenchClient). */
export interface ObjectClient {
  upload(key: string, body: Buffer | Iterable<Buffer> | AsyncIterable<Buffer>, length: number): Promise<Outcome>;
  retrieve(key: string, expected?: { sha256: string; size: number }): Promise<RetrieveOutcome>;
  delete(key: string): Promise<Outcome>;
  close(): Promise<void>;
}

/** The keep-alive connections a bench client keeps to one origin: one request on each at a time. */
export function benchPool(origin: string, connections: number, timeoutMs: number): Pool {
  return new Pool(origin, { connections, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 30_000 });
}

/** A GET's hashed body (any client's) checked against what was stored; a status other than 200 is the failure. */
export function checkedBody(got: HashedBody, expected: { sha256: string; size: number } | undefined): RetrieveOutcome {
  const { status, bytes, sha256: digest } = got;
  if (status !== 200) return { ok: false, status, reason: `http ${status}`, bytes: 0 };
  if (expected && bytes !== expected.size) return { ok: false, status, reason: "size mismatch", bytes, sha256: digest };
  if (expected && digest !== expected.sha256) return { ok: false, status, reason: "checksum mismatch", bytes, sha256: digest };
  return { ok: true, status, bytes, sha256: digest };
}

/** A 2xx (its body drained), or the status as the failure. */
export function statusOutcome(res: HashedBody): Outcome {
  return res.status >= 200 && res.status < 300
    ? { ok: true, status: res.status }
    : { ok: false, status: res.status, reason: `http ${res.status}` };
}

/**
 * The GETs of a client made for large objects (`largeGets`): read off the socket into reused
 * buffers (socket-get.ts), which costs the bench half the CPU per MiB of undici's; else undici's.
 */
export function largeGetter(origin: string, largeGets: boolean, timeoutMs: number): SocketGetter | undefined {
  return largeGets ? new SocketGetter(origin, timeoutMs) : undefined;
}

/** A GET, through the client's SocketGetter if it has one (large objects), else its undici pool. */
export async function retrieveWith(
  pool: Pool,
  large: SocketGetter | undefined,
  path: string,
  headers: Record<string, string>,
  expected: { sha256: string; size: number } | undefined,
): Promise<RetrieveOutcome> {
  try {
    if (large) return checkedBody(await large.get(path, headers), expected);
    return checkedBody(await send(pool, { path, method: "GET", headers, hashBody: true }), expected);
  } catch (e) {
    return { ...failure(e), bytes: 0 };
  }
}

export class MiniS3Client implements ObjectClient {
  readonly pool: Pool;
  private readonly large?: SocketGetter;
  private readonly address: string;

  /** `largeGets`: GETs read as large objects' are (largeGetter). */
  constructor(origin: string, connections: number, timeoutMs = 60_000, largeGets = false) {
    this.pool = benchPool(origin, connections, timeoutMs);
    this.large = largeGetter(origin, largeGets, timeoutMs);
    this.address = new URL(origin).host;
  }

  /** Uploads a Buffer, or an iterable of chunks with its declared length. */
  async upload(key: string, body: Buffer | Iterable<Buffer> | AsyncIterable<Buffer>, length: number): Promise<Outcome> {
    try {
      const res = await send(this.pool, {
        path: `/upload?key=${q(key)}`,
        method: "POST",
        // pulled as the socket drains (backpressure): one chunk read ahead at most
        body: Buffer.isBuffer(body) ? body : Readable.from(body, { objectMode: false }),
        headers: { "content-type": "application/octet-stream", "content-length": String(length), ...this.authorization() },
      });
      return statusOutcome(res);
    } catch (e) {
      return failure(e);
    }
  }

  /** Retrieves and hashes the body as it streams in; checks it against the expected sha256 and size. */
  retrieve(key: string, expected?: { sha256: string; size: number }): Promise<RetrieveOutcome> {
    return retrieveWith(this.pool, this.large, `/retrieve?key=${q(key)}`, this.authorization(), expected);
  }

  async delete(key: string): Promise<Outcome> {
    try {
      return statusOutcome(await send(this.pool, { path: `/delete?key=${q(key)}`, method: "DELETE", headers: this.authorization() }));
    } catch (e) {
      return failure(e);
    }
  }

  /**
   * The bearer token header (a token made per minute by client-credentials.ts), looked up by
   * host:port: by URL, authorizationFor parsed the origin with `new URL` on every request.
   */
  private authorization(): Record<string, string> {
    return authorizationFor(this.address);
  }

  close(): Promise<void> {
    this.large?.close();
    return this.pool.close();
  }
}
