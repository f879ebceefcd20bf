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

const CRLF = Buffer.from("\r\n");

/** The body's bytes, framed: one Buffer per aws-chunk (its size line, its data, CRLF), then the last chunk and trailer. */
export async function* awsChunked(body: Iterable<Buffer> | AsyncIterable<Buffer>, chunk = SDK_CHUNK): AsyncGenerator<Buffer> {
  const crc = newChecksum("crc32"); // the server's own: base64 of the big-endian value, as the SDKs send it
  const parts: Buffer[] = [];
  let held = 0;
  // The next n held bytes, framed: their slices copied once, into the frame.
  const frame = (n: number): Buffer => {
    const out: Buffer[] = [Buffer.from(`${n.toString(16)}\r\n`)];
    for (let need = n; need > 0;) {
      let slice = parts[0];
      if (slice.length <= need) parts.shift();
      else {
        parts[0] = slice.subarray(need);
        slice = slice.subarray(0, need);
      }
      crc.update(slice);
      out.push(slice);
      need -= slice.length;
    }
    held -= n;
    out.push(CRLF);
    return Buffer.concat(out);
  };
  for await (const piece of body) {
    parts.push(piece);
    held += piece.length;
    while (held >= chunk) yield frame(chunk);
  }
  if (held > 0) yield frame(held);
  yield Buffer.from(`0\r\n${TRAILER_NAME}:${crc.digest()}\r\n\r\n`);
}
