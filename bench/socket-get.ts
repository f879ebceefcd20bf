import { createHash } from "node:crypto";
import { PlanePool, recycleChunk, type PlaneResponse } from "../services/rpc/client/blob-http-get";
import { ProgressDeadline } from "../services/rpc/client/progress-deadline";

// The large phases' GETs, read off the socket (net `onread`) into reused 64 KiB buffers by the
// coordinator's own blob-plane reader (services/rpc/client/blob-http-get.ts), hashed as they come
// and handed back. Through undici a 64 MiB GET cost the bench 1.3-6.0 ms of CPU per MiB (medians
// 1.6 and 2.6 in two sittings, 2026-12-03): a fresh Buffer per socket read, copied into llhttp's
// wasm memory, a Readable and its async iterator, the GC of all that. That was the largest single
// share of a GET's CPU (coordinator 0.8-4.1, serving node 0.8-2.3), on the same two cores, so it set
// the GET's pace. Read this way, 1.0-2.0 (medians 1.2 and 1.35; sha256 alone is ~0.75), and the
// bench's CPU in the large rows halves: bench/README.md "A 64 MiB GET taken apart".

/** Body bytes queued before the socket pauses: a few socket reads. */
const QUEUED_BYTES = 1024 * 1024;
/** An idle kept-alive connection is closed after this long (undici's keepAliveTimeout in benchPool). */
const IDLE_MS = 30_000;

export interface HashedBody {
  status: number;
  /** Body bytes read (hashed for a 200; for other answers drained, or 0 when not read at all). */
  bytes: number;
  /** The body's sha256 (hex), for a 200 whose body was hashed. */
  sha256?: string;
}

/** Kept-alive connections to one origin, one GET on each at a time. */
export class SocketGetter {
  private readonly pool: PlanePool;
  private readonly host: string;

  constructor(
    origin: string,
    private readonly timeoutMs: number,
  ) {
    const url = new URL(origin);
    this.host = url.host;
    this.pool = new PlanePool(url.hostname.replace(/^\[(.*)\]$/, "$1"), Number(url.port || 80), IDLE_MS);
  }

  /**
   * GETs `path` and hashes a 200's body as it streams in; any other answer is read no further (its
   * connection is closed). Throws when the connection fails or the server is silent for
   * `timeoutMs` (for the head, then for each piece of the body, as undici's headersTimeout and
   * bodyTimeout).
   */
  async get(path: string, headers: Record<string, string>): Promise<HashedBody> {
    let request = `GET ${path} HTTP/1.1\r\n`;
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "host")) request += `host: ${this.host}\r\n`;
    for (const [name, value] of Object.entries(headers)) request += `${name}: ${value}\r\n`;
    for (let attempt = 0; ; attempt++) {
      const conn = this.pool.take();
      const reused = conn.uses > 0;
      const res = conn.get(`${request}\r\n`, QUEUED_BYTES);
      const deadline = new ProgressDeadline(this.timeoutMs, () => res.cancel());
      try {
        await deadline.around(res.head);
        if (res.status !== 200) return { status: res.status, bytes: 0 };
        return { status: 200, ...(await hashed(res, deadline)) };
      } catch (e) {
        res.cancel();
        // A kept-alive connection the server closed as it was reused: once more, on a new one.
        if (reused && !res.answered && attempt === 0) continue;
        throw deadline.expired ? Object.assign(new Error(`no byte for ${this.timeoutMs} ms`), { code: "ETIMEDOUT" }) : e;
      }
    }
  }

  close(): void {
    this.pool.close();
  }
}

async function hashed(res: PlaneResponse, deadline: ProgressDeadline): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for (;;) {
    const chunk = res.take() ?? (await deadline.around(res.next()));
    if (!chunk) break;
    hash.update(chunk);
    bytes += chunk.length;
    recycleChunk(chunk); // hashed: its buffer may be read into again
  }
  return { bytes, sha256: hash.digest("hex") };
}
