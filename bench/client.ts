import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { Pool, type Dispatcher } from "undici";
import { authorizationFor } from "../deploy/launcher/client-credentials";

// The bench's HTTP side: one keep-alive connection pool to the coordinator; every body read is
// streamed through sha256, never collected.

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

/** Reads a GET's body through sha256 as it streams in and checks it against what was stored. */
export async function verifiedBody(
  res: Dispatcher.ResponseData,
  expected: { sha256: string; size: number } | undefined,
): Promise<RetrieveOutcome> {
  if (res.statusCode !== 200) {
    await res.body.dump({ limit: 1 << 20 });
    return { ok: false, status: res.statusCode, reason: `http ${res.statusCode}`, bytes: 0 };
  }
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of res.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  const digest = hash.digest("hex");
  if (expected && bytes !== expected.size) return { ok: false, status: 200, reason: "size mismatch", bytes, sha256: digest };
  if (expected && digest !== expected.sha256) return { ok: false, status: 200, reason: "checksum mismatch", bytes, sha256: digest };
  return { ok: true, status: 200, bytes, sha256: digest };
}

/** A 2xx after the body was drained, or the status as the failure. */
export async function statusOutcome(res: Dispatcher.ResponseData): Promise<Outcome> {
  await res.body.dump({ limit: 1 << 20 });
  return res.statusCode >= 200 && res.statusCode < 300
    ? { ok: true, status: res.statusCode }
    : { ok: false, status: res.statusCode, reason: `http ${res.statusCode}` };
}

export class MiniS3Client implements ObjectClient {
  readonly pool: Pool;

  constructor(
    private readonly origin: string,
    connections: number,
    timeoutMs = 60_000,
  ) {
    this.pool = benchPool(origin, connections, timeoutMs);
  }

  /** Uploads a Buffer, or an iterable of chunks with its declared length. */
  async upload(key: string, body: Buffer | Iterable<Buffer> | AsyncIterable<Buffer>, length: number): Promise<Outcome> {
    try {
      const res = await this.pool.request({
        path: `/upload?key=${q(key)}`,
        method: "POST",
        // pulled as the socket drains (backpressure): one chunk read ahead at most
        body: Buffer.isBuffer(body) ? body : Readable.from(body, { objectMode: false }),
        headers: { "content-type": "application/octet-stream", "content-length": String(length), ...authorizationFor(this.origin) },
      });
      return await statusOutcome(res);
    } catch (e) {
      return failure(e);
    }
  }

  /** Retrieves and hashes the body as it streams in; checks it against the expected sha256 and size. */
  async retrieve(key: string, expected?: { sha256: string; size: number }): Promise<RetrieveOutcome> {
    try {
      const res = await this.pool.request({ path: `/retrieve?key=${q(key)}`, method: "GET", headers: authorizationFor(this.origin) });
      return await verifiedBody(res, expected);
    } catch (e) {
      return { ...failure(e), bytes: 0 };
    }
  }

  async delete(key: string): Promise<Outcome> {
    try {
      const res = await this.pool.request({ path: `/delete?key=${q(key)}`, method: "DELETE", headers: authorizationFor(this.origin) });
      return await statusOutcome(res);
    } catch (e) {
      return failure(e);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
