import * as http from "node:http";
import type { BlobBackend, BlobReader } from "../blob-backend";
import { BLOB_PATH, CODE_FIELD, OK } from "../blob-plane";
import { NODE_ID_HEADER } from "../node-identity";
import { blobOf, silentLog } from "../testing/test-helpers";
import { createBlobHttpServer, PLANE_READ_BYTES } from "./blob-http-server";

// A blob-plane GET hands each chunk back to the reader (BlobReader.recycle) to be refilled by a
// later read: only in the socket write's callback. Handed back while still queued in the stream, a
// refilled chunk would go out as other bytes under an "ok" trailer. Here a handed-back chunk is
// overwritten at once, and a client that reads nothing for a while (so chunks queue in the node)
// must still receive the blob's own bytes.

const CHUNK = 64 * 1024;
const blob = blobOf(16 * 1024 * 1024); // more than loopback's socket buffers hold

let recycled = 0;
/** The chunk size each read asked the backend for. */
const asked: (number | undefined)[] = [];
const backend = {
  async read(_id: string, _offset: number, _length: number | undefined, chunkBytes?: number): Promise<BlobReader> {
    asked.push(chunkBytes);
    const chunks = (async function* () {
      for (let at = 0; at < blob.data.length; at += CHUNK) yield Buffer.from(blob.data.subarray(at, at + CHUNK));
    })();
    const meta = { blobId: "b", size: blob.data.length, sha256: blob.sha256, storedAtMs: 0, attributes: {} };
    return {
      meta,
      offset: 0,
      length: blob.data.length,
      chunks,
      recycle: (chunk: Buffer) => {
        recycled++;
        chunk.fill(0xee); // what a later read would do to it
      },
    };
  },
} as unknown as BlobBackend;

let server: http.Server;
let port: number;

beforeAll(async () => {
  server = createBlobHttpServer(backend, { id: "n1", log: silentLog });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test("a GET refills a chunk only once the socket is done with it: a slow reader gets the blob's bytes", async () => {
  const { body, trailer } = await new Promise<{ body: Buffer; trailer: string | undefined }>((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: `${BLOB_PATH}b`, headers: { [NODE_ID_HEADER]: "n1" } }, (res) => {
      res.pause(); // the node's socket fills and its writes queue
      const parts: Buffer[] = [];
      setTimeout(() => {
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => resolve({ body: Buffer.concat(parts), trailer: res.trailers[CODE_FIELD] }));
        res.resume();
      }, 300);
    });
    req.on("error", reject);
  });
  expect(trailer).toBe(OK);
  expect(body.length).toBe(blob.data.length);
  expect(body.equals(blob.data)).toBe(true);
  expect(recycled).toBeGreaterThan(0);
  // Its file read in 1 MiB chunks, not the node's 256 KiB (a quarter of the reads and writes per MiB).
  expect(asked).toEqual([1024 * 1024]);
  expect(PLANE_READ_BYTES).toBe(1024 * 1024);
});
