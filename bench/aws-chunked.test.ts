import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { awsChunked, awsChunkedLength, SDK_CHUNK } from "./aws-chunked";

async function framed(pieces: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of awsChunked(pieces)) out.push(b);
  return Buffer.concat(out);
}

describe("the SDK's stream framing", () => {
  test.each([0, 1, 1000, SDK_CHUNK, 3 * SDK_CHUNK + 17, 4 * SDK_CHUNK])(
    "%i bytes in uneven pieces: the length announced is the length sent, the data and its CRC32 trailer in order",
    async (size) => {
      const body = randomBytes(size);
      const cuts = [0, Math.floor(size / 3), Math.floor(size / 3) + 5, size].map((c) => Math.min(c, size));
      const wire = await framed(cuts.slice(1).map((end, i) => body.subarray(cuts[i], end)));
      expect(wire.length).toBe(awsChunkedLength(size));
      // Read back: size lines of at most SDK_CHUNK, each chunk's data and CRLF, then 0 and the trailer.
      const data: Buffer[] = [];
      let at = 0;
      for (;;) {
        const eol = wire.indexOf("\r\n", at);
        const n = parseInt(wire.subarray(at, eol).toString(), 16);
        at = eol + 2;
        if (n === 0) break;
        expect(n).toBeLessThanOrEqual(SDK_CHUNK);
        data.push(wire.subarray(at, at + n));
        expect(wire.subarray(at + n, at + n + 2).toString()).toBe("\r\n");
        at += n + 2;
      }
      expect(Buffer.concat(data).equals(body)).toBe(true);
      const sum = Buffer.alloc(4);
      sum.writeUInt32BE(crc32(body) >>> 0);
      expect(wire.subarray(at).toString()).toBe(`x-amz-checksum-crc32:${sum.toString("base64")}\r\n\r\n`);
    },
  );
});
