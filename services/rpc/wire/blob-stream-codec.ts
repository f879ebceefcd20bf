import { freeWholeBuffer } from "../../common/body-pieces";
import { ReadBlobResponse, WriteBlobRequest } from "../gen/minis3/v1/node";

// Codecs for the two messages that carry object bytes (WriteBlobRequest, ReadBlobResponse). A
// chunk message is field 2 (bytes) alone, so it is encoded with one copy instead of ts-proto's
// growing writer, and decoded without copying the data; every other message goes through ts-proto.
// The wire format is the same either way (blob-stream-codec.test.ts checks it against ts-proto).

const CHUNK_TAG = (2 << 3) | 2; // field 2, length-delimited: `chunk` in both messages

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/**
 * Chunks laid out inside their encoded message (allocChunk), found again by the chunk Buffer itself
 * while it lives: an upload chunk written to several replicas, a chunk read from a file. Such a
 * chunk is its encoding, so it may be refilled once sent; any other chunk sent over WriteBlob gets an
 * encoded copy kept for the next replica, so it must not be (a stale copy would fail a sha256 check).
 */
const encodedChunks = new WeakMap<Buffer, Buffer>();

/**
 * Joins pieces of an upload into one chunk laid out as its own encoded chunk message: the copy
 * that joins them is the only one, and sending the chunk to any number of replicas encodes nothing.
 * `into`, a chunk of `length` bytes from an earlier join that no one sends any more, is refilled.
 */
export function joinAsChunk(pieces: Buffer[], length: number, into?: Buffer): Buffer {
  const chunk = into?.length === length && encodedChunks.has(into) ? into : allocChunk(length);
  let at = 0;
  for (const p of pieces) {
    p.copy(chunk, at);
    at += p.length;
  }
  return chunk;
}

/**
 * A Buffer of `length` bytes to fill (a file read, a join), allocated inside its own encoded
 * chunk message, so sending it encodes nothing. Only whole: a subarray of it is encoded anew.
 */
export function allocChunk(length: number): Buffer {
  const head = 1 + varintLength(length);
  const out = Buffer.allocUnsafe(head + length);
  writeHeader(out, length);
  const chunk = out.subarray(head);
  encodedChunks.set(chunk, out);
  return chunk;
}

/**
 * Frees a chunk allocChunk made, with its encoded message, now rather than at V8's next collection
 * (common/body-pieces.ts freeWholeBuffer); it reads as empty after. Only for a chunk nothing sends,
 * reads or refills any more. Any other Buffer is left to the garbage collector.
 */
export function freeChunk(chunk: Buffer): void {
  const encoded = encodedChunks.get(chunk);
  if (!encoded) return;
  encodedChunks.delete(chunk);
  freeWholeBuffer(encoded);
}

function writeHeader(out: Buffer, length: number): number {
  out[0] = CHUNK_TAG;
  let n = length;
  let at = 1;
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at] = n;
  return at + 1;
}

/** The chunk's encoded message: the one it was laid out in, or a new one (kept if `keep`: it will be sent again). */
function encodeChunk(data: Buffer, keep: boolean): Buffer {
  const cached = encodedChunks.get(data);
  if (cached) return cached;
  const out = Buffer.allocUnsafe(1 + varintLength(data.length) + data.length);
  data.copy(out, writeHeader(out, data.length));
  if (keep) encodedChunks.set(data, out);
  return out;
}

/** The chunk's bytes if the message is a lone chunk field, else undefined. */
function decodeChunk(buf: Buffer): Buffer | undefined {
  if (buf.length < 2 || buf[0] !== CHUNK_TAG) return undefined;
  let len = 0;
  let shift = 1;
  let at = 1;
  for (; at < buf.length && at < 6; at++) {
    const b = buf[at];
    len += (b & 0x7f) * shift;
    shift *= 128;
    if (b < 0x80) {
      at++;
      break;
    }
  }
  return at + len === buf.length ? buf.subarray(at) : undefined;
}

export function encodeWriteBlobRequest(m: WriteBlobRequest): Buffer {
  if (m.part?.$case === "chunk") return encodeChunk(m.part.value, true);
  return Buffer.from(WriteBlobRequest.encode(m).finish());
}

export function decodeWriteBlobRequest(buf: Buffer): WriteBlobRequest {
  const chunk = decodeChunk(buf);
  return chunk ? { part: { $case: "chunk", value: chunk } } : WriteBlobRequest.decode(buf);
}

export function encodeReadBlobResponse(m: ReadBlobResponse): Buffer {
  if (m.part?.$case === "chunk") return encodeChunk(m.part.value, false);
  return Buffer.from(ReadBlobResponse.encode(m).finish());
}

export function decodeReadBlobResponse(buf: Buffer): ReadBlobResponse {
  const chunk = decodeChunk(buf);
  return chunk ? { part: { $case: "chunk", value: chunk } } : ReadBlobResponse.decode(buf);
}
