import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";
import { Pool } from "undici";
import { awsChunked, awsChunkedLength, SDK_CHUNK } from "./aws-chunked";
import { send } from "./dispatch";

async function framed(pieces: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of awsChunked(pieces)) out.push(Buffer.from(b)); // a write's Buffer is reused two writes on
  return Buffer.concat(out);
}

describe("the SDK's stream framing", () => {
  test.each([0, 1, 1000, SDK_CHUNK, 3 * SDK_CHUNK + 17, 4 * SDK_CHUNK, 16 * SDK_CHUNK, 33 * SDK_CHUNK + 1])(
    "%i bytes in uneven pieces: the length announced is the length sent, the data and its CRC32 trailer in order",
    async (size) => {
      const body = randomBytes(size);
      const cuts = [0, Math.floor(size / 3), Math.floor(size / 3) + 5, size].map((c) => Math.min(c, size));
      const wire = await framed(cuts.slice(1).map((end, i) => body.subarray(cuts[i], end)));
      expect(wire.length).toBe(awsChunkedLength(size));
      expectFrames(wire, body);
    },
  );

  test("sent by undici as the bench sends it, every write's bytes reach the server before their Buffer is reused", async () => {
    const got: Buffer[] = [];
    const server: Server = createServer((req, res) => {
      // Read slowly, so the client's writes wait on the socket: a Buffer reused before the kernel took it would show here.
      req.on("data", (b: Buffer) => {
        got.push(Buffer.from(b));
        req.pause();
        setTimeout(() => req.resume(), 1);
      });
      req.on("end", () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      // 32 MiB and 5 bytes (more than the kernel buffers of a loopback connection hold): 33 writes; 1 MiB source pieces as the bench's.
      const body = randomBytes(512 * SDK_CHUNK + 5);
      const pieces = Array.from({ length: 33 }, (_, i) => body.subarray(i << 20, Math.min(body.length, (i + 1) << 20)));
      const answer = await send(pool, {
        path: "/",
        method: "PUT",
        headers: { "content-length": String(awsChunkedLength(body.length)) },
        body: awsChunked(pieces),
      });
      expect(answer.status).toBe(200);
      expectFrames(Buffer.concat(got), body);
    } finally {
      await pool.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** Reads `wire` back: size lines of at most SDK_CHUNK, each chunk's data and CRLF, then 0 and the trailer: `body` and its CRC32. */
function expectFrames(wire: Buffer, body: Buffer): void {
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
}
