import * as net from "node:net";
import { ErrorCode, IntegrityError, NotFoundError } from "../../common/errors";
import { CODE_FIELD, encodeBlobInfo, errorFields, MESSAGE_FIELD } from "../blob-plane";
import { blobOf } from "../testing/test-helpers";
import { BlobHttpClient } from "./blob-http-client";

// The coordinator reads a blob-plane GET's response off the socket itself (blob-http-get.ts): the
// head, the chunked body and its trailers must be understood however the socket's reads cut them,
// and anything short of the node's "ok" verdict must fail the read.

const blob = blobOf(300 * 1024);

/** A response as the node's server sends it: chunks of `piece` bytes, then the trailers. */
function response(trailers: Record<string, string>, b = blob, piece = 100 * 1024): Buffer {
  const meta = { blobId: "b", size: b.data.length, sha256: b.sha256, storedAtMs: 0, attributes: {} };
  const parts: Buffer[] = [Buffer.from(`HTTP/1.1 200 OK\r\nminis3-blob: ${encodeBlobInfo(meta)}\r\nTransfer-Encoding: chunked\r\n\r\n`)];
  for (let at = 0; at < b.data.length; at += piece) {
    const chunk = b.data.subarray(at, at + piece);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n"));
  }
  const fields = Object.entries(trailers).map(([k, v]) => `${k}: ${v}\r\n`);
  parts.push(Buffer.from(`0\r\n${fields.join("")}\r\n`));
  return Buffer.concat(parts);
}

/** A server that answers each request on a connection with `answer`, written in `cut`-byte pieces. */
async function serve(answer: Buffer, cut: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("data", async (req) => {
      if (!req.toString("latin1").endsWith("\r\n\r\n")) return;
      for (let at = 0; at < answer.length; at += cut) {
        s.write(answer.subarray(at, at + cut));
        if (cut < 64) await new Promise((r) => setImmediate(r));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function readAll(port: number): Promise<Buffer> {
  const client = new BlobHttpClient("n1", `127.0.0.1:${port}`, { deadlineMs: 5000, idleMs: 500, commitMs: 5000 });
  try {
    const read = await client.read("b", 0, undefined);
    const parts: Buffer[] = [];
    for await (const chunk of read.chunks) parts.push(Buffer.from(chunk));
    return Buffer.concat(parts);
  } finally {
    client.close();
  }
}

test.each([1, 7, 1000, 64 * 1024])("a response cut into %i-byte socket writes is read whole", async (cut) => {
  const b = cut < 64 ? blobOf(8 * 1024) : blob;
  const server = await serve(response({ [CODE_FIELD]: "ok" }, b, cut < 64 ? 3000 : 100 * 1024), cut);
  try {
    expect((await readAll(server.port)).equals(b.data)).toBe(true);
  } finally {
    await server.close();
  }
});

test("the node's error in the trailers fails the read with that error", async () => {
  const server = await serve(response(errorFields(new IntegrityError("block 3 failed its crc32"))), 64 * 1024);
  try {
    await expect(readAll(server.port)).rejects.toThrow(IntegrityError);
  } finally {
    await server.close();
  }
});

test("a body without the node's verdict, or cut before its end, is the transport's failure", async () => {
  for (const answer of [response({}), response({ [CODE_FIELD]: "ok" }).subarray(0, 200 * 1024)]) {
    const server = await serve(answer, 64 * 1024);
    try {
      await expect(readAll(server.port)).rejects.toMatchObject({ code: ErrorCode.NodeUnavailable });
    } finally {
      await server.close();
    }
  }
});

test("a refusal's head carries the node's error", async () => {
  const f = errorFields(new NotFoundError("no blob b"));
  const server = await serve(
    Buffer.from(
      `HTTP/1.1 404 Not Found\r\n${CODE_FIELD}: ${f[CODE_FIELD]}\r\n${MESSAGE_FIELD}: ${f[MESSAGE_FIELD]}\r\nContent-Length: 0\r\n\r\n`,
    ),
    1024,
  );
  try {
    await expect(readAll(server.port)).rejects.toThrow(NotFoundError);
  } finally {
    await server.close();
  }
});
