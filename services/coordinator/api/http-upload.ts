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
export async function* requestBody(raw: IncomingMessage): AsyncGenerator<Buffer> {
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
