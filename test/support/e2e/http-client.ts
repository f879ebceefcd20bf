import { request, type IncomingHttpHeaders } from "node:http";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import type { Readable } from "node:stream";
import { sha256OfStream } from "./bytes";

// HTTP helpers that stream (node:http rather than fetch): large bodies go up and come back
// without being held in memory, and a body can be sent chunked or cut off on purpose.

export interface StreamedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** sha256 and size of the response body, hashed as it arrived. */
  sha256: string;
  size: number;
  /** The body, when it was small enough to keep (JSON answers). */
  text: string;
}

const KEEP_TEXT_UP_TO = 64 * 1024;

export const keyQuery = (key: string, bucket?: string): string =>
  `key=${encodeURIComponent(key)}${bucket ? `&bucket=${encodeURIComponent(bucket)}` : ""}`;

/**
 * Sends `body` (a stream) as the request body. With `contentLength` the request declares it; without,
 * node sends it chunked (Transfer-Encoding: chunked).
 */
export function streamRequest(url: string, opts: {
  method: string; body?: Readable; contentLength?: number; headers?: Record<string, string>;
  /** Send the headers, then wait this long for an early answer before sending the body. */
  holdBodyMs?: number;
}): Promise<StreamedResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { "content-type": "application/octet-stream", ...opts.headers };
    if (opts.contentLength !== undefined) headers["content-length"] = String(opts.contentLength);
    let answered = false;
    const req = request(url, { method: opts.method, headers }, (res) => {
      answered = true;
      const kept: Buffer[] = [];
      let keptBytes = 0;
      res.on("data", (c: Buffer) => {
        if (keptBytes < KEEP_TEXT_UP_TO) { kept.push(c); keptBytes += c.length; }
      });
      sha256OfStream(res).then(({ sha256, size }) => resolve({
        status: res.statusCode ?? 0, headers: res.headers, sha256, size, text: Buffer.concat(kept).toString("utf8"),
      }), reject);
    });
    // The server may answer (413) and close while the body is still going out (EPIPE/ECONNRESET here):
    // give its answer a second to arrive. In practice node's client loses it to the reset, which is
    // why callers that expect an early answer use holdBodyMs.
    req.on("error", (e) => {
      if (!answered) setTimeout(() => { if (!answered) reject(e); }, 1_000);
    });
    const body = opts.body;
    if (!body) return void req.end();
    body.on("error", reject);
    if (!opts.holdBodyMs) return void body.pipe(req);
    req.flushHeaders();
    setTimeout(() => { if (answered) body.destroy(); else body.pipe(req); }, opts.holdBodyMs);
  });
}

export const streamUpload = (base: string, key: string, body: Readable, contentLength?: number, holdBodyMs?: number) =>
  streamRequest(`${base}/upload?${keyQuery(key)}`, { method: "POST", body, contentLength, holdBodyMs });

export const streamRetrieve = (base: string, key: string, headers?: Record<string, string>) =>
  streamRequest(`${base}/retrieve?${keyQuery(key)}`, { method: "GET", headers });

/**
 * A raw upload that declares `declared` bytes, sends only `sent`, then destroys the socket: what a
 * client that crashes or loses its network mid-upload looks like to the server.
 */
export function truncatedUpload(base: string, key: string, declared: number, sent: number): Promise<void> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(
        `POST /upload?${keyQuery(key)} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`,
      );
      socket.write(Buffer.alloc(sent, 0x61), () => {
        // give the server a moment to start streaming to the nodes, then vanish
        setTimeout(() => { socket.destroy(); resolve(); }, 200);
      });
    });
    socket.on("error", reject);
  });
}

/**
 * GETs `url`, hashing the body; once `atBytes` have arrived it pauses the download (so backpressure
 * reaches the server), awaits `fault()`, then reads on to the end.
 */
export function downloadWithFault(url: string, atBytes: number, fault: () => Promise<unknown>): Promise<{ status: number; size: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      const hash = createHash("sha256");
      let received = 0;
      let faulted = false;
      res.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
        if (!faulted && received >= atBytes) {
          faulted = true;
          res.pause();
          fault().then(() => res.resume(), reject);
        }
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, size: received, sha256: hash.digest("hex") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}
