import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import type { Server } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { DiskBackend } from "../../blobstore/disk-backend";
import type { BlobWriter } from "../blob-backend";
import { BLOB_INFO_HEADER, BLOB_PATH, SHA256_FIELD, SIZE_FIELD } from "../blob-plane";
import { NODE_ID_HEADER } from "../node-identity";
import { silentLog, tempDir } from "../testing/test-helpers";
import { createBlobHttpServer, JoinBuffer } from "./blob-http-server";

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

/**
 * 8 MiB PUT (16 KiB chunks, sent at once) to a node whose writers `wrap` makes slow, so that socket
 * reads queue up meanwhile; checks the answer and that the blob holds the bytes sent.
 */
async function putThroughSlowDisk(blobId: string, wrap: (w: BlobWriter) => BlobWriter): Promise<void> {
  const slow = new DiskBackend({ dataDir: join(dir.path, blobId), chunkSize: 64 * 1024, log: silentLog, compactIntervalMs: 0 });
  await slow.open();
  const begin = slow.beginWrite.bind(slow);
  slow.beginWrite = async (id, attributes) => wrap(await begin(id, attributes));
  const plane = createBlobHttpServer(slow, { id: "n1", log: silentLog });
  await new Promise<void>((r) => plane.listen(0, "127.0.0.1", r));
  try {
    const data = randomBytes(8 * 1024 * 1024);
    const sha256 = createHash("sha256").update(data).digest("hex");
    const socket = connect((plane.address() as { port: number }).port, "127.0.0.1");
    const answer = new Promise<string>((resolve, reject) => {
      let text = "";
      socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    socket.write(
      `PUT ${BLOB_PATH}${blobId} HTTP/1.1\r\nhost: n1\r\n${NODE_ID_HEADER}: n1\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n`,
    );
    for (let at = 0; at < data.length; at += 16 * 1024) {
      socket.write(`${(16 * 1024).toString(16)}\r\n`);
      socket.write(data.subarray(at, at + 16 * 1024));
      socket.write("\r\n");
    }
    socket.write(`0\r\n${SIZE_FIELD}: ${data.length}\r\n${SHA256_FIELD}: ${sha256}\r\n\r\n`);
    const text = await answer;
    expect(text.startsWith("HTTP/1.1 200")).toBe(true);
    expect(text.toLowerCase()).toContain(BLOB_INFO_HEADER);
    const reader = await slow.read(blobId, 0, undefined);
    const back: Buffer[] = [];
    for await (const c of reader.chunks) back.push(Buffer.from(c));
    expect(createHash("sha256").update(Buffer.concat(back)).digest("hex")).toBe(sha256);
  } finally {
    await new Promise((r) => plane.close(r));
    await slow.close();
  }
}

const slowDisk = (ms: number) => new Promise((r) => setTimeout(r, ms)); // the next reads queue meanwhile

// The socket reads that queue up while the disk writes are joined into one buffer per request,
// reused once the writer took the last join (BlobWriter.write keeps no reference): a fresh Buffer
// per join was external memory that brought the node's next mark-compact closer (2026-12-02).
test("a PUT's queued reads are joined into one reused buffer for a writer without writev, and the blob holds the bytes sent", async () => {
  const joins = new Set<ArrayBufferLike>();
  let gathered = 0;
  await putThroughSlowDisk("joined", (w) => ({
    write: async (chunk) => {
      if (chunk.length > 64 * 1024) {
        gathered++;
        joins.add(chunk.buffer);
      }
      await slowDisk(2);
      return w.write(chunk);
    },
    commit: (size, sha256) => w.commit(size, sha256),
    abort: () => w.abort(),
  }));
  expect(gathered).toBeGreaterThan(4);
  expect(joins.size).toBe(1);
});

// A writer that takes several chunks at once (BlobWriter.writev: FileStore's, one pwritev) gets the
// queued reads as they are, up to 1 MiB per call: no joining copy, fewer disk writes (2026-12-03).
test("a PUT's queued reads go to a writer's writev as they are, more than a join's 256 KiB at once", async () => {
  const calls: number[] = [];
  await putThroughSlowDisk("gathered", (w) => ({
    write: (chunk) => w.write(chunk),
    writev: async (chunks) => {
      calls.push(chunks.reduce((n, c) => n + c.length, 0));
      await slowDisk(5);
      return w.writev!(chunks);
    },
    commit: (size, sha256) => w.commit(size, sha256),
    abort: () => w.abort(),
  }));
  expect(Math.max(...calls)).toBeGreaterThan(256 * 1024 + 64 * 1024);
  expect(calls.reduce((n, c) => n + c, 0)).toBeLessThanOrEqual(8 * 1024 * 1024);
});

test("a join larger than the buffer so far gets a larger one", () => {
  const j = new JoinBuffer();
  const small = j.join([Buffer.from("ab"), Buffer.from("c")], 3);
  expect(small.toString()).toBe("abc");
  const big = j.join([Buffer.alloc(400 * 1024, 1), Buffer.from("z")], 400 * 1024 + 1);
  expect(big.length).toBe(400 * 1024 + 1);
  expect(big[400 * 1024]).toBe("z".charCodeAt(0));
  expect(j.join([Buffer.from("xy")], 2).buffer).toBe(big.buffer);
});
