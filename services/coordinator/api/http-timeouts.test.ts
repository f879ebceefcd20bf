// HTTP timeouts (issue 12 item 9, review finding 19): a client that stalls is cut after the idle
// timeout; one that is slow but keeps sending is not; headers must all arrive within their own timeout.
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { AbortedError } from "../../common/errors";
import { createHttpFacade } from "./http-facade";
import { MemoryObjectEngine } from "./testing/memory-engine";

const IDLE_MS = 1000;
const HEADERS_MS = 2000;

let engine: MemoryObjectEngine;
let app: FastifyInstance;
let port: number;

beforeEach(async () => {
  engine = new MemoryObjectEngine();
  app = createHttpFacade(engine, engine, {
    maxObjectSize: 1024 * 1024,
    timeouts: { idleMs: IDLE_MS, keepAliveMs: IDLE_MS, headersMs: HEADERS_MS, requestMs: 0 },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as AddressInfo).port;
});

afterEach(async () => {
  await app.close();
});

/**
 * Opens a connection, lets `talk` write on it, and resolves with what the server sent once the
 * server closes it; rejects if it is still open after `limitMs` (the server never cut it).
 */
function untilServerCloses(talk: (socket: net.Socket) => void, limitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (d) => (text += d.toString("latin1")));
    socket.on("error", () => undefined); // a reset is a close too
    socket.on("close", () => {
      clearTimeout(limit);
      resolve(text);
    });
    const limit = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the stalled connection open for ${limitMs} ms; got: ${text}`));
    }, limitMs);
    socket.on("connect", () => talk(socket));
  });
}

test("a client that stalls in its headers is disconnected", async () => {
  const text = await untilServerCloses((s) => s.write("POST /upload?key=a HTTP/1.1\r\nHost: x\r\n"), 10 * IDLE_MS);
  expect(text).not.toMatch(/^HTTP\/1\.1 2/);
  expect(engine.objects.size).toBe(0);
});

test("a client that stalls in the middle of its upload body is disconnected, and nothing is stored", async () => {
  await untilServerCloses(
    (s) => s.write("POST /upload?key=b HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + "y".repeat(100)),
    10 * IDLE_MS,
  );
  const deadline = Date.now() + 5000;
  while (engine.putErrors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(engine.putErrors[0]).toBeInstanceOf(AbortedError);
  expect(engine.objects.size).toBe(0);
});

test("a slow upload that keeps moving is not cut, though it lasts several idle timeouts", async () => {
  const body = "slow but steady bytes!!"; // one byte every 150 ms: 3.5 s in all, 3.5 idle timeouts
  const text = await untilServerCloses((s) => {
    s.write(`POST /upload?key=slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`);
    let at = 0;
    const tick = setInterval(() => {
      if (!s.writable) return clearInterval(tick);
      s.write(body[at++]);
      if (at === body.length) clearInterval(tick);
    }, 150);
  }, 30_000);
  expect(text).toMatch(/^HTTP\/1\.1 201 /);
  expect(engine.bytesOf("default", "slow")?.toString()).toBe(body);
});

test("headers that trickle in (each byte within the idle timeout) are cut after the headers timeout", async () => {
  let tick: NodeJS.Timeout | undefined;
  const started = Date.now();
  const text = await untilServerCloses((s) => {
    s.write("GET /retrieve?key=c HTTP/1.1\r\nHost: x\r\n");
    tick = setInterval(() => s.writable && s.write("X"), 100); // one endless header, a byte at a time
  }, 10 * HEADERS_MS).finally(() => clearInterval(tick));
  expect(Date.now() - started).toBeGreaterThanOrEqual(HEADERS_MS - 100);
  expect(text).toMatch(/^HTTP\/1\.1 408 /);
});

test("a client that stops reading a download is disconnected, and the read on the node is stopped", async () => {
  // More than the kernel's socket buffers hold, so the server's writes stall.
  engine.store("default", "big", Buffer.alloc(32 * 1024 * 1024, 7));
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  socket.write("GET /retrieve?key=big HTTP/1.1\r\nHost: x\r\n\r\n");
  socket.once("data", () => socket.pause()); // the headers came: stop reading
  try {
    // The paused client would never see the close (it reads no more), so watch the server's side.
    const deadline = Date.now() + 10 * IDLE_MS;
    while (engine.cancelledReads === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(engine.cancelledReads).toBe(1);
    expect(engine.openReads).toBe(0);
  } finally {
    socket.destroy();
  }
});
