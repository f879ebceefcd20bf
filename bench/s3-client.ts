import { Readable } from "node:stream";
import aws4 from "aws4";
import type { Pool } from "undici";
import { awsChunked, awsChunkedHeaders, awsChunkedLength } from "./aws-chunked";
import {
  benchPool,
  failure,
  largeGetter,
  retrieveWith,
  statusOutcome,
  type ObjectClient,
  type Outcome,
  type RetrieveOutcome,
} from "./client";
import { send } from "./dispatch";
import { AWS_CLI_MULTIPART, multipartUpload, type MultipartShape } from "./s3-multipart";
import type { SocketGetter } from "./socket-get";

// The bench's S3 side: the same workloads through the S3 port, every request signed with SigV4 as
// stock clients sign it (aws4: an independent signer), so the coordinator's verifier is measured
// too. Bodies go as UNSIGNED-PAYLOAD, which the SDKs send over TLS and which costs the client no
// hashing here; the server still checks size and sha256 end to end as for every upload. With
// `framing: "aws-chunked"` uploads go as the SDKs send a stream (aws-chunked.ts); with "multipart"
// as the stock tools send a big file: in parts, several at once (s3-multipart.ts).

export interface S3Keys {
  accessKey: string;
  secretKey: string;
}

/** How an upload's body goes: one PUT as it is, one PUT aws-chunked, or a multipart upload. */
export type Framing = "as-sent" | "aws-chunked" | "multipart";

export class S3BenchClient implements ObjectClient {
  readonly pool: Pool;
  private readonly host: string;
  private readonly large?: SocketGetter;

  /**
   * `largeGets`: GETs read as large objects' are (client.ts largeGetter). With "multipart" framing
   * give `connections` of at least `multipart.inFlight`, or parts wait for a connection.
   */
  constructor(
    origin: string,
    private readonly bucket: string,
    private readonly keys: S3Keys,
    connections: number,
    timeoutMs = 60_000,
    largeGets = false,
    private readonly framing: Framing = "as-sent",
    private readonly multipart: MultipartShape = AWS_CLI_MULTIPART,
    private readonly region = "us-east-1",
  ) {
    this.host = new URL(origin).host;
    this.pool = benchPool(origin, connections, timeoutMs);
    this.large = largeGetter(origin, largeGets, timeoutMs);
  }

  /** SigV4 headers for a path-style request; a query in `path` is signed with it (aws4 parses it off). */
  private signed(method: string, path: string, headers: Record<string, string> = {}): Record<string, string> {
    const req = {
      host: this.host,
      method,
      path,
      service: "s3",
      region: this.region,
      headers: { "x-amz-content-sha256": "UNSIGNED-PAYLOAD", ...headers } as Record<string, string>,
    };
    aws4.sign(req, { accessKeyId: this.keys.accessKey, secretAccessKey: this.keys.secretKey });
    return req.headers;
  }

  /** Slashes stay slashes: a key's "/" sent as %2F would be signed by aws4 as "/" (it decodes the path). */
  private path(key: string): string {
    return `/${this.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  }

  /** CreateBucket; a bucket this key already owns is fine. */
  async createBucket(): Promise<Outcome> {
    try {
      const out = statusOutcome(
        await send(this.pool, { path: `/${this.bucket}`, method: "PUT", headers: this.signed("PUT", `/${this.bucket}`) }),
      );
      return out.status === 409 ? { ok: true, status: 409 } : out;
    } catch (e) {
      return failure(e);
    }
  }

  async upload(key: string, body: Buffer | Iterable<Buffer> | AsyncIterable<Buffer>, length: number): Promise<Outcome> {
    if (this.framing === "multipart")
      return multipartUpload(this.pool, (m, p, h) => this.signed(m, p, h), this.path(key), body, length, this.multipart);
    try {
      const path = this.path(key);
      const chunked = this.framing === "aws-chunked";
      const headers = this.signed("PUT", path, {
        "content-type": "application/octet-stream",
        "content-length": String(chunked ? awsChunkedLength(length) : length),
        ...(chunked ? awsChunkedHeaders(length) : {}),
      });
      // aws-chunked's generator goes to undici as it is: it reuses a write's Buffer once asked for the
      // next two, which a Readable in between would ask for before the socket took the first.
      const wire = chunked
        ? awsChunked(Buffer.isBuffer(body) ? [body] : body)
        : Buffer.isBuffer(body)
          ? body
          : Readable.from(body, { objectMode: false });
      const res = await send(this.pool, {
        path,
        method: "PUT",
        body: wire,
        headers,
      });
      return statusOutcome(res);
    } catch (e) {
      return failure(e);
    }
  }

  retrieve(key: string, expected?: { sha256: string; size: number }): Promise<RetrieveOutcome> {
    const path = this.path(key);
    return retrieveWith(this.pool, this.large, path, this.signed("GET", path), expected);
  }

  async delete(key: string): Promise<Outcome> {
    try {
      const path = this.path(key);
      return statusOutcome(await send(this.pool, { path, method: "DELETE", headers: this.signed("DELETE", path) }));
    } catch (e) {
      return failure(e);
    }
  }

  close(): Promise<void> {
    this.large?.close();
    return this.pool.close();
  }
}
