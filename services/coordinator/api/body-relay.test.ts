import * as http from "node:http";
import type { BlobBackend, BlobReader } from "../../rpc/blob-backend";
import { BlobHttpClient } from "../../rpc/client/blob-http-client";
import { NODE_ID_HEADER } from "../../rpc/node-identity";
import { createBlobHttpServer } from "../../rpc/server/blob-http-server";
import { blobOf, silentLog } from "../../rpc/testing/test-helpers";
import type { ObjectBody } from "../model/object-body";
import { relayBody } from "./body-relay";

// A large GET's chunks are slices of read buffers the coordinator reuses (rpc/client/blob-http-get.ts):
// each is handed back only once the client's response has written it, in the write's callback.
// Handed back while still queued in the response, its memory could be read into again before it
// went out, and the client would get other bytes with a 200. Here a client reads nothing for 300 ms
// while the relay goes on (so the response's queue fills and waits), then compares every byte.

const CHUNK = 64 * 1024;
const blob = blobOf(16 * 1024 * 1024); // more than loopback's socket buffers hold
const servers: http.Server[] = [];

async function listen(server: http.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

/** GETs the relay's port, reading nothing for 300 ms first. */
function slowGet(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/" }, (res) => {
      res.pause();
      const parts: Buffer[] = [];
      setTimeout(() => {
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => resolve(Buffer.concat(parts)));
        res.on("error", reject);
        res.resume();
      }, 300);
    });
    req.on("error", reject);
  });
}

function relayServer(open: () => Promise<ObjectBody>): http.Server {
  return http.createServer((_req, res) => {
    void open().then((body) => {
      res.writeHead(200, { "content-length": String(blob.data.length) });
      return relayBody(res, body);
    });
  });
}

test("a chunk is handed back only once the client's response wrote it: a slow client gets the object's bytes", async () => {
  let recycled = 0;
  const body: ObjectBody = Object.assign(
    (async function* () {
      for (let at = 0; at < blob.data.length; at += CHUNK) yield Buffer.from(blob.data.subarray(at, at + CHUNK));
    })(),
    {
      recycle: (chunk: Buffer) => {
        recycled++;
        chunk.fill(0xee); // what a later read into it would do
      },
    },
  );
  const port = await listen(relayServer(async () => body));
  const got = await slowGet(port);
  expect(got.length).toBe(blob.data.length);
  expect(got.equals(blob.data)).toBe(true);
  expect(recycled).toBeGreaterThan(0);
});

test("a node's blob-plane read relayed to a slow client: read buffers are refilled only once every slice of them was written", async () => {
  const backend = {
    async read(): Promise<BlobReader> {
      const chunks = (async function* () {
        for (let at = 0; at < blob.data.length; at += 4 * CHUNK) yield blob.data.subarray(at, at + 4 * CHUNK);
      })();
      const meta = { blobId: "b", size: blob.data.length, sha256: blob.sha256, storedAtMs: 0, attributes: {} };
      return { meta, offset: 0, length: blob.data.length, chunks };
    },
  } as unknown as BlobBackend;
  const nodePort = await listen(createBlobHttpServer(backend, { id: "n1", log: silentLog }));
  const client = new BlobHttpClient("n1", `127.0.0.1:${nodePort}`, { deadlineMs: 5000, idleMs: 5000, commitMs: 5000 });
  let recycled = 0;
  const port = await listen(
    relayServer(async () => {
      const read = await client.read("b", 0, undefined);
      return Object.assign(read.chunks, {
        recycle: (chunk: Buffer) => {
          recycled++;
          read.recycle!(chunk);
        },
      });
    }),
  );
  try {
    for (let i = 0; i < 2; i++) {
      // twice: the second read reuses the connection and the buffers the first handed back
      const got = await slowGet(port);
      expect(got.length).toBe(blob.data.length);
      expect(got.equals(blob.data)).toBe(true);
    }
    expect(recycled).toBeGreaterThan(0);
  } finally {
    client.close();
  }
});

test("a client that reads nothing holds the relay: the node's read pauses, at most a few MiB queued", async () => {
  const sent = { bytes: 0 };
  const backend = {
    async read(): Promise<BlobReader> {
      const chunks = (async function* () {
        for (let at = 0; at < blob.data.length; at += 4 * CHUNK) {
          sent.bytes += 4 * CHUNK;
          yield blob.data.subarray(at, at + 4 * CHUNK);
        }
      })();
      const meta = { blobId: "b", size: blob.data.length, sha256: blob.sha256, storedAtMs: 0, attributes: {} };
      return { meta, offset: 0, length: blob.data.length, chunks };
    },
  } as unknown as BlobBackend;
  const nodePort = await listen(createBlobHttpServer(backend, { id: "n1", log: silentLog }));
  const client = new BlobHttpClient("n1", `127.0.0.1:${nodePort}`, { deadlineMs: 5000, idleMs: 5000, commitMs: 5000 });
  const port = await listen(
    relayServer(async () => {
      const read = await client.read("b", 0, undefined);
      return Object.assign(read.chunks, { recycle: read.recycle! });
    }),
  );
  const req = http.get({ host: "127.0.0.1", port, path: "/", headers: { [NODE_ID_HEADER]: "n1" } }, (res) => res.pause());
  req.on("error", () => undefined);
  try {
    await new Promise((r) => setTimeout(r, 500));
    // Loopback's socket buffers (both hops) and the relay's queue hold some; never the whole blob.
    expect(sent.bytes).toBeLessThan(blob.data.length);
  } finally {
    req.destroy();
    client.close();
  }
});
