import { newChecksum } from "../services/auth/checksums";

// A body framed as the SDKs send a stream upload: aws-chunked, chunks unsigned, a CRC32 of the whole
// in a trailer (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER). The JavaScript SDK v3,
// aws-cli v2 and boto3 upload so by default; the server decodes it on its way in, which the bench's
// UNSIGNED-PAYLOAD rows do not measure.

/** Data bytes per aws-chunk: the JavaScript SDK frames each read of a file stream, 64 KiB by default. */
export const SDK_CHUNK = 64 * 1024;

const TRAILER_NAME = "x-amz-checksum-crc32";
/** base64 of a 4-byte crc32 is always 8 characters. */
const TRAILER_BYTES = `0\r\n${TRAILER_NAME}:xxxxxxxx\r\n\r\n`.length;

/** The headers such an upload carries beside its signature (the content-length is `awsChunkedLength`). */
export function awsChunkedHeaders(size: number): Record<string, string> {
  return {
    "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": String(size),
    "x-amz-trailer": TRAILER_NAME,
  };
}

/** Bytes on the wire for `size` bytes of object framed in chunks of `chunk`. */
export function awsChunkedLength(size: number, chunk = SDK_CHUNK): number {
  let wire = TRAILER_BYTES;
  for (let left = size; left > 0; left -= chunk) {
    const n = Math.min(chunk, left);
    wire += n.toString(16).length + 2 + n + 2;
  }
  return wire;
}

/**
 * aws-chunks handed to the socket per write. The SDKs frame 64 KiB chunks; how the frames reach the
 * socket is the client's affair (the bytes on the wire are the same). A write per chunk, each a fresh
 * Buffer, cost the bench 1.7-2.3x its plain rows' CPU per 64 MiB upload (page faults on fresh memory and a
 * copy per chunk, bench/README.md "The SDK row's client"): CPU the servers then did not get on this
 * 2-core machine.
 */
const CHUNKS_PER_WRITE = 16;

/**
 * The body's bytes, framed: each aws-chunk (its size line, its data, CRLF) copied once into a write of
 * up to CHUNKS_PER_WRITE of them, then the last chunk and trailer. Writes are made in two Buffers taken
 * in turn, so a yielded Buffer is overwritten once the generator is resumed a second time after it: a
 * consumer must be done with it by then. undici, given this generator as a body, is (it writes each
 * chunk corked and resumes the generator only at the socket's 'drain': every byte of the chunk handed
 * to the kernel); a consumer that keeps the chunks must copy them.
 */
export async function* awsChunked(body: Iterable<Buffer> | AsyncIterable<Buffer>, chunk = SDK_CHUNK): AsyncGenerator<Buffer> {
  const crc = newChecksum("crc32"); // the server's own: base64 of the big-endian value, as the SDKs send it
  const fullLine = chunk.toString(16).length + 2; // a whole chunk's size line and its CRLF
  const frameBytes = fullLine + chunk + 2;
  const writes = [Buffer.allocUnsafe(CHUNKS_PER_WRITE * frameBytes), Buffer.allocUnsafe(CHUNKS_PER_WRITE * frameBytes)];
  let turn = 0;
  let out = writes[0];
  let at = 0; // bytes framed in `out`
  let dataAt = -1; // where the chunk being filled has its data (-1: none open)
  let inChunk = 0; // its data bytes so far
  const open = () => {
    dataAt = at + fullLine; // room for a whole chunk's size line; a short last one's is written when it closes
    inChunk = 0;
  };
  const close = (): void => {
    const line = `${inChunk.toString(16)}\r\n`;
    if (at + line.length !== dataAt) out.copy(out, at + line.length, dataAt, dataAt + inChunk); // a short chunk's data moves up to its shorter line
    out.write(line, at, "latin1");
    at += line.length + inChunk;
    at += out.write("\r\n", at, "latin1");
    dataAt = -1;
  };
  for await (const piece of body) {
    for (let from = 0; from < piece.length;) {
      if (dataAt < 0) open();
      const n = Math.min(chunk - inChunk, piece.length - from);
      const slice = piece.subarray(from, from + n);
      crc.update(slice);
      slice.copy(out, dataAt + inChunk);
      inChunk += n;
      from += n;
      if (inChunk === chunk) {
        close();
        if (at + frameBytes > out.length) {
          yield out.subarray(0, at);
          out = writes[++turn % 2];
          at = 0;
        }
      }
    }
  }
  if (dataAt >= 0 && inChunk > 0) close();
  const trailer = Buffer.from(`0\r\n${TRAILER_NAME}:${crc.digest()}\r\n\r\n`);
  yield Buffer.concat([out.subarray(0, at), trailer]);
}
