import { request, type IncomingHttpHeaders } from "node:http";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import type { Readable } from "node:stream";
import { authorizationFor } from "../../deploy/launcher/client-credentials";
import { hashStream, hashedAsSent, seededStream, type StreamedDigest } from "./bodies";

// HTTP calls against the coordinator's facade, the one client the integration tests share. Small
// bodies go through fetch and come back whole; large ones stream through node:http, which also lets
// a test shape the wire: a body sent chunked, held back for an early answer, cut off mid-upload, or a
// download paused while a fault is injected. Neither direction then holds the body in memory.

export const keyQuery = (key: string, bucket?: string): string =>
  `key=${encodeURIComponent(key)}${bucket ? `&bucket=${encodeURIComponent(bucket)}` : ""}`;

// --- whole bodies (global fetch, i.e. undici) ---

/** fetch with the credentials of the cluster at `url` (the facade answers 401 to an unsigned call, but /healthz). */
export function signedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(authorizationFor(url))) if (!headers.has(name)) headers.set(name, value);
  return fetch(url, { ...init, headers });
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: Buffer;
}

async function call(method: string, url: string, body?: Buffer | string, signal?: AbortSignal): Promise<HttpResult> {
  const res = await fetch(url, {
    method,
    body,
    signal,
    headers: { ...authorizationFor(url), ...(body === undefined ? {} : { "content-type": "application/octet-stream" }) },
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** `signal` aborts the call (a test's own limit on how long an answer may take). */
export const upload = (base: string, key: string, body: Buffer | string, signal?: AbortSignal) =>
  call("POST", `${base}/upload?${keyQuery(key)}`, body, signal);
export const retrieve = (base: string, key: string, signal?: AbortSignal) =>
  call("GET", `${base}/retrieve?${keyQuery(key)}`, undefined, signal);
export const remove = (base: string, key: string) => call("DELETE", `${base}/delete?${keyQuery(key)}`);
export const stat = (base: string, key: string) => call("GET", `${base}/stat?${keyQuery(key)}`);

/** GET a JSON endpoint (/status, /objects, /stat); throws on a non-2xx answer. */
export async function getJson<T = unknown>(url: string): Promise<T> {
  const res = await fetch(url, { headers: authorizationFor(url) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** POST with a JSON answer (undelete); the status is returned, not thrown. */
export async function postJson(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: "POST", headers: authorizationFor(url) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

// --- streamed bodies (node:http) ---

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

/**
 * Sends `body` (a stream) as the request body. With `contentLength` the request declares it; without,
 * node sends it chunked (Transfer-Encoding: chunked).
 */
export function streamRequest(
  url: string,
  opts: {
    method: string;
    body?: Readable;
    contentLength?: number;
    headers?: Record<string, string>;
    /** Send the headers, then wait this long for an early answer before sending the body. */
    holdBodyMs?: number;
  },
): Promise<StreamedResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { "content-type": "application/octet-stream", ...authorizationFor(url), ...opts.headers };
    if (opts.contentLength !== undefined) headers["content-length"] = String(opts.contentLength);
    let answered = false;
    const req = request(url, { method: opts.method, headers }, (res) => {
      answered = true;
      const kept: Buffer[] = [];
      let keptBytes = 0;
      res.on("data", (c: Buffer) => {
        if (keptBytes < KEEP_TEXT_UP_TO) {
          kept.push(c);
          keptBytes += c.length;
        }
      });
      hashStream(res).then(
        ({ sha256, size }) =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            sha256,
            size,
            text: Buffer.concat(kept).toString("utf8"),
          }),
        reject,
      );
    });
    // The server may answer (413) and close while the body is still going out (EPIPE/ECONNRESET here):
    // give its answer a second to arrive. In practice node's client loses it to the reset, which is
    // why callers that expect an early answer use holdBodyMs.
    req.on("error", (e) => {
      if (!answered)
        setTimeout(() => {
          if (!answered) reject(e);
        }, 1_000);
    });
    const body = opts.body;
    if (!body) return void req.end();
    body.on("error", reject);
    if (!opts.holdBodyMs) return void body.pipe(req);
    req.flushHeaders();
    setTimeout(() => {
      if (answered) body.destroy();
      else body.pipe(req);
    }, opts.holdBodyMs);
  });
}

export const streamUpload = (base: string, key: string, body: Readable, contentLength?: number, holdBodyMs?: number) =>
  streamRequest(`${base}/upload?${keyQuery(key)}`, { method: "POST", body, contentLength, holdBodyMs });

export const streamRetrieve = (base: string, key: string, headers?: Record<string, string>) =>
  streamRequest(`${base}/retrieve?${keyQuery(key)}`, { method: "GET", headers });

/** POST /upload of `size` seeded bytes generated on the fly (1 MiB pieces); returns what was sent and the answer. */
export async function uploadSeeded(
  base: string,
  key: string,
  size: number,
  seed = key,
): Promise<{ sent: StreamedDigest; status: number; json: Record<string, unknown> }> {
  const { stream, digest } = hashedAsSent(seededStream(seed, size, 1024 * 1024));
  const res = await streamUpload(base, key, stream, size);
  return { sent: await digest, status: res.status, json: JSON.parse(res.text) as Record<string, unknown> };
}

export interface StreamedRead extends StreamedDigest {
  status: number;
  /** x-minis3-tier: where the bytes came from (hot or cold). */
  tier: string | null;
  versionId: string | null;
  /** The error body of a non-2xx answer (for the failure message). */
  error?: string;
}

/** GET /retrieve, hashing the body as it arrives. */
export async function retrieveHashed(base: string, key: string): Promise<StreamedRead> {
  const res = await streamRetrieve(base, key);
  if (res.status < 200 || res.status > 299)
    return { status: res.status, tier: null, versionId: null, size: 0, sha256: "", error: res.text };
  const header = (name: string) => (res.headers[name] as string | undefined) ?? null;
  return {
    status: res.status,
    tier: header("x-minis3-tier"),
    versionId: header("x-minis3-version-id"),
    size: res.size,
    sha256: res.sha256,
  };
}

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
          Object.entries(authorizationFor(base))
            .map(([name, value]) => `${name}: ${value}\r\n`)
            .join("") +
          `Content-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`,
      );
      socket.write(Buffer.alloc(sent, 0x61), () => {
        // give the server a moment to start streaming to the nodes, then vanish
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 200);
      });
    });
    socket.on("error", reject);
  });
}

/**
 * GETs `url`, hashing the body; once `atBytes` have arrived it pauses the download (so backpressure
 * reaches the server), awaits `fault()`, then reads on to the end.
 */
export function downloadWithFault(
  url: string,
  atBytes: number,
  fault: () => Promise<unknown>,
): Promise<{ status: number; size: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: authorizationFor(url) }, (res) => {
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

/** What a GET /retrieve gave: its status, whether it ended cleanly, its size and sha256. */
export interface RetrieveOutcome {
  status: number;
  /** The response ended cleanly (every declared byte, no reset). */
  complete: boolean;
  size: number;
  sha256: string;
}

/** GET /retrieve over a plain socket, telling a clean end from a cut one. */
export function retrieveOutcome(base: string, key: string): Promise<RetrieveOutcome> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/retrieve?${keyQuery(key)}`, { headers: authorizationFor(base) }, (res) => {
      const hash = createHash("sha256");
      let size = 0;
      let cut = false;
      res.on("data", (c: Buffer) => {
        hash.update(c);
        size += c.length;
      });
      res.on("aborted", () => (cut = true));
      res.on("error", () => (cut = true));
      res.on("close", () => {
        const declared = Number(res.headers["content-length"] ?? -1);
        const complete = !cut && res.complete && (declared < 0 || declared === size);
        resolve({ status: res.statusCode ?? 0, complete, size, sha256: hash.digest("hex") });
      });
    });
    req.on("error", reject);
    req.end();
  });
}
