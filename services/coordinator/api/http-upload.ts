// Turning an HTTP upload into the engine's PutInput pieces: the body as a pull-based iterable that
// fails loudly when the client goes away, the declared length, and user metadata from headers.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { ownBodyPiece } from "../../common/body-pieces";
import { AbortedError, InvalidArgumentError, MiniS3Error, TooLargeError } from "../../common/errors";

const META_PREFIXES = ["x-amz-meta-", "x-minis3-meta-"];

/** x-amz-meta-NAME / x-minis3-meta-NAME headers → { NAME: value } (node lowercases header names). */
export function metadataFromHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const name in headers) {
    if (name.charCodeAt(0) !== 120 /* x */) continue; // cheap skip: most headers do not start with x
    for (const prefix of META_PREFIXES) {
      if (name.length > prefix.length && name.startsWith(prefix)) {
        const value = headers[name];
        metadata[name.slice(prefix.length)] = Array.isArray(value) ? value.join(",") : (value ?? "");
      }
    }
  }
  return metadata;
}

/** The Content-Length header as a number; undefined when absent (chunked upload). */
export function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const text = headers["content-length"];
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`invalid Content-Length "${text}"`);
  return Number(text);
}

/**
 * The raw request body, streamed. Pulling is the backpressure (node pauses the socket while we do
 * not read). A client that disconnects or sends fewer bytes than it declared makes this throw, so
 * the engine aborts instead of committing a short object.
 */
export async function* requestBody(
  raw: IncomingMessage,
  /**
   * The request's Content-Length as the caller read it: the S3 door reads headers from its own map,
   * and `raw.headers` is a second table node builds on first use, per request (~5 % of that door's
   * server CPU per op with the request id's read, 2026-12-07).
   */
  declared: string | undefined = raw.headers["content-length"],
): AsyncGenerator<Buffer> {
  if (raw.destroyed && !raw.complete) throw new AbortedError("client went away before the upload started");
  if (raw.complete && !raw.destroyed && raw.readableFlowing !== true) {
    // The whole body has arrived (a small upload, usually in the headers' packet): node holds all
    // of it, and one read() in paused mode hands it over, ending the stream. The stream's async
    // iterator (its end-of-stream watch, listeners and promises) cost ~1 % of the busy coordinator's
    // CPU under the overwrite row (issue 16, coordhot).
    const all = raw.read() as Buffer | null;
    if (all !== null) yield all;
    return;
  }
  if (!raw.complete && !raw.destroyed && declared !== undefined && Number(declared) <= WHOLE_BODY_MAX) {
    // A small body still arriving (the overwrite row's 4 KiB uploads, most of them: the client
    // sends the body after the headers) is taken whole by listeners, not the stream's async
    // iterator: the iterator (its end-of-stream watch, a promise per piece, its end handling) was
    // ~2.6 % of the bytes the busy coordinator allocated under the overwrite row (sampling heap
    // profile with collected objects, 2026-12-07). Bounded: at most WHOLE_BODY_MAX bytes held.
    for (const piece of await wholeBody(raw)) yield piece;
    if (!raw.complete) throw new AbortedError("upload interrupted: body ended early");
    return;
  }
  try {
    // Each piece is node:http's own copy of a socket read: the engine may free it once used (body-pieces.ts).
    // An engine that stops early (a failed upload) returns this generator: the request is left to the
    // answer, not destroyed (a destroyed request destroys its socket, and the answer with it).
    for await (const chunk of raw.iterator({ destroyOnReturn: false })) yield ownBodyPiece(chunk as Buffer);
  } catch (e) {
    throw new AbortedError(`upload interrupted: ${(e as Error).message}`);
  }
  if (!raw.complete) throw new AbortedError("upload interrupted: body ended early");
}

/** A declared body up to this size that has not all arrived is read whole by wholeBody. */
const WHOLE_BODY_MAX = 64 * 1024;

/**
 * Every piece of a request's body, once it has ended; rejects with AbortedError when the request
 * fails or closes before its end (the client went away), as the iterator's loop below does.
 */
function wholeBody(raw: IncomingMessage): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = [];
    const settle = (e?: Error): void => {
      raw.off("data", onData).off("end", settle).off("error", settle).off("close", onClose);
      if (e) reject(new AbortedError(`upload interrupted: ${e.message}`));
      else resolve(pieces);
    };
    // Each piece is node:http's own copy of a socket read (body-pieces.ts), as in requestBody.
    const onData = (chunk: Buffer): void => void pieces.push(ownBodyPiece(chunk));
    const onClose = (): void => settle(new Error("Premature close"));
    raw.on("data", onData).on("end", settle).on("error", settle).on("close", onClose);
    // A 'data' listener does not start a stream paused by hand (the iterator it replaced did).
    raw.resume();
  });
}

/** The `file` part of a multipart upload, streamed; busboy's size-limit error becomes TooLargeError. */
export async function* multipartFileBody(file: Readable, maxObjectSize: number): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of file) yield chunk as Buffer;
  } catch (e) {
    if (e instanceof MiniS3Error) throw e;
    if ((e as { code?: string }).code === "FST_REQ_FILE_TOO_LARGE") {
      throw new TooLargeError(`object exceeds ${maxObjectSize} bytes`);
    }
    throw new AbortedError(`upload interrupted: ${(e as Error).message}`);
  }
  // busboy marks a file cut at the size limit as truncated (when it does not throw).
  if ((file as Readable & { truncated?: boolean }).truncated) throw new TooLargeError(`object exceeds ${maxObjectSize} bytes`);
}
