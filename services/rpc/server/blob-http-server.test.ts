import { readdir } from "node:fs/promises";
import type { Server } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { DiskBackend } from "../../blobstore/disk-backend";
import { BLOB_PATH } from "../blob-plane";
import { NODE_ID_HEADER } from "../node-identity";
import { silentLog, tempDir } from "../testing/test-helpers";
import { createBlobHttpServer } from "./blob-http-server";

// A blob-plane PUT whose sender goes silent mid-body (a coordinator stopped with SIGSTOP, or cut off
// with its socket still open: its kernel still answers TCP keepalive) is cut once its connection
// has moved no byte for the idle limit, and its temp file removed. Before, the node held both for
// good (review 2026-11-30, finding 8's node side, noticed again 2026-12-01).

let dir: { path: string; remove(): Promise<void> };
let backend: DiskBackend;
let server: Server;
let port: number;

beforeAll(async () => {
  dir = await tempDir("blob-http-idle");
  backend = new DiskBackend({ dataDir: dir.path, chunkSize: 64 * 1024, log: silentLog, compactIntervalMs: 0 });
  await backend.open();
  server = createBlobHttpServer(backend, { id: "n1", log: silentLog, idleTimeoutMs: 300 });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await backend.close();
  await dir.remove();
});

test("a PUT whose sender stops mid-body is cut after the idle limit, and leaves no temp file", async () => {
  const socket = connect(port, "127.0.0.1");
  const closed = new Promise<number>((resolve) => {
    const since = performance.now();
    socket.on("close", () => resolve(performance.now() - since));
  });
  socket.on("error", () => undefined);
  socket.write(
    `PUT ${BLOB_PATH}stalled HTTP/1.1\r\nhost: n1\r\n${NODE_ID_HEADER}: n1\r\ntransfer-encoding: chunked\r\n\r\n` +
      `${(64 * 1024).toString(16)}\r\n`,
  );
  socket.write(Buffer.alloc(32 * 1024, 7)); // half a chunk, then silence
  const tmp = join(dir.path, "tmp");
  const tempFiles = async () => (await readdir(tmp).catch(() => [])).length;
  await new Promise((r) => setTimeout(r, 100));
  expect(await tempFiles()).toBe(1); // the write began

  const after = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r("still open after 5 s"), 5000))]);
  expect(typeof after).toBe("number");
  for (let i = 0; i < 50 && (await tempFiles()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(await tempFiles()).toBe(0);
  expect(await backend.stat("stalled")).toBeNull();
  socket.destroy();
});
