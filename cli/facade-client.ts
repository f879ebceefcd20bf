// The coordinator's HTTP facade as `minis3` calls it: every request signed with SigV4 (the signer
// in services/auth, the same canonical code the facade verifies with), bodies streamed both ways,
// and every failure turned into a CliError that carries the server's own error name and message.
import type { Readable } from "node:stream";
import { request, type Dispatcher } from "undici";
import { signRequest } from "../services/auth/sigv4/sign";
import { UNSIGNED_PAYLOAD } from "../services/auth/sigv4/canonical";
import { CliError, EXIT, exitCodeOfStatus } from "./exit-codes";
import type { Target } from "./profile";

export type Params = Record<string, string | undefined>;

export interface UploadOptions {
  contentType: string;
  /** Bytes, when known up front (a file); otherwise the body goes chunked. */
  length?: number;
  /** The body's hex sha256 when it was hashed first: the facade then commits nothing that differs. */
  sha256?: string;
  metadata?: Record<string, string>;
}

export interface Download {
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/** Error answers are read up to this much: they are small JSON, and a proxy's HTML page need not be kept whole. */
const MAX_ERROR_BODY = 64 * 1024;

export class FacadeClient {
  private readonly base: URL;

  constructor(private readonly target: Target) {
    this.base = new URL(target.endpoint);
  }

  get endpoint(): string {
    return this.target.endpoint;
  }

  /** A JSON call (stat, list, delete, undelete, status). */
  async json<T>(method: string, route: string, params: Params = {}): Promise<T> {
    const res = await this.send(method, route, params, {});
    return (await res.body.json()) as T;
  }

  /** Streams `body` to POST /upload; resolves with the facade's answer once the upload is committed. */
  async upload<T>(params: Params, body: Readable, opts: UploadOptions): Promise<T> {
    const headers: Record<string, string> = { "content-type": opts.contentType };
    if (opts.length !== undefined) headers["content-length"] = String(opts.length);
    for (const [name, value] of Object.entries(opts.metadata ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    const res = await this.send("POST", "/upload", params, headers, opts.sha256 ?? UNSIGNED_PAYLOAD, body);
    return (await res.body.json()) as T;
  }

  /** GET /retrieve: the object's headers, and its bytes as a stream the caller must read or destroy. */
  async download(params: Params): Promise<Download> {
    const res = await this.send("GET", "/retrieve", params, {});
    return { headers: res.headers, body: res.body };
  }

  private async send(
    method: string,
    route: string,
    params: Params,
    headers: Record<string, string>,
    payloadHash?: string,
    body?: Readable,
  ): Promise<Dispatcher.ResponseData> {
    const path = this.base.pathname.replace(/\/+$/, "") + route;
    const query = Object.entries(params)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
      .join("&");
    const signed = signRequest({ method, path, query, host: this.base.host, headers, payloadHash }, this.target.keys);
    delete signed.host; // undici sends the URL's own
    signed["user-agent"] = "minis3-cli";
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${this.base.origin}${path}${query ? `?${query}` : ""}`, {
        method: method as Dispatcher.HttpMethod,
        headers: signed,
        body,
      });
    } catch (e) {
      if (e instanceof CliError) throw e;
      const err = e as { code?: string; message?: string };
      throw new CliError(
        EXIT.unavailable,
        `cannot reach ${this.target.endpoint}: ${err.code ?? ""}${err.code && err.message ? " " : ""}${err.message ?? ""}`.trim(),
      );
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    throw await this.failure(res);
  }

  private async failure(res: Dispatcher.ResponseData): Promise<CliError> {
    let text = "";
    try {
      for await (const chunk of res.body) {
        text += (chunk as Buffer).toString("utf8");
        if (text.length >= MAX_ERROR_BODY) break;
      }
    } catch {
      // the answer's status is what matters
    }
    res.body.destroy();
    let error = "";
    let message = text.trim().slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
      if (typeof parsed.error === "string") error = parsed.error;
      if (typeof parsed.message === "string") message = parsed.message;
    } catch {
      // not JSON (a proxy in the way): its text is the message
    }
    const code = exitCodeOfStatus(res.statusCode, error);
    const hint = code === EXIT.auth && res.statusCode === 401 ? ` (keys from ${this.target.source})` : "";
    return new CliError(code, `${error || `HTTP ${res.statusCode}`}: ${message || "no message"} (HTTP ${res.statusCode})${hint}`);
  }
}
