import { createHash, Hash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MiniS3Client } from "./client";
import { SocketGetter } from "./socket-get";

// The large phases' GETs (socket-get.ts): what they read is checked, and they read it into a few
// reused buffers, which is their point (half undici's CPU per MiB on the bench's side).

const body = randomBytes(16 * 1024 * 1024 + 7);
const sha256 = createHash("sha256").update(body).digest("hex");

let server: Server;
let origin: string;
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? "/";
    if (path.startsWith("/retrieve") || path === "/length") return void res.writeHead(200, { "content-length": body.length }).end(body);
    if (path === "/chunked") {
      // Chunked, in pieces that do not fall on the reader's buffer boundaries.
      res.writeHead(200);
      for (let at = 0; at < body.length; at += 100_003) res.write(body.subarray(at, at + 100_003));
      return void res.end();
    }
    if (path === "/short") {
      res.writeHead(200, { "content-length": body.length });
      res.write(body.subarray(0, 1024 * 1024));
      return void setTimeout(() => res.destroy(), 20);
    }
    if (path === "/silent") return; // never answers
    res.writeHead(404).end("no such thing");
  });
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

test("a body with a length or chunked is read whole and hashed, on one kept-alive connection", async () => {
  const getter = new SocketGetter(origin, 10_000);
  try {
    const before = connections;
    for (const path of ["/length", "/chunked", "/length"])
      expect(await getter.get(path, { "x-test": "1" })).toEqual({ status: 200, bytes: body.length, sha256 });
    expect(connections - before).toBe(1);
  } finally {
    getter.close();
  }
});

test("an answer that is not a 200 is its status; a cut body and a silent server throw", async () => {
  const getter = new SocketGetter(origin, 300);
  try {
    expect(await getter.get("/missing", {})).toEqual({ status: 404, bytes: 0 });
    await expect(getter.get("/short", {})).rejects.toThrow();
    await expect(getter.get("/silent", {})).rejects.toMatchObject({ code: "ETIMEDOUT" });
    // Whatever failed before, the next read is whole.
    expect(await getter.get("/length", {})).toMatchObject({ status: 200, sha256 });
  } finally {
    getter.close();
  }
});

test("a client made for large objects hashes its GETs out of a few reused read buffers, checked", async () => {
  const client = new MiniS3Client(origin, 1, 10_000, true);
  const update = jest.spyOn(Hash.prototype, "update");
  try {
    for (let i = 0; i < 2; i++)
      expect(await client.retrieve("big", { sha256, size: body.length })).toMatchObject({ ok: true, bytes: body.length });
    expect(await client.retrieve("big", { sha256: "0".repeat(64), size: body.length })).toMatchObject({
      ok: false,
      reason: "checksum mismatch",
    });
    // 48 MiB read in ~770 socket reads: through undici, or without handing its buffers back, each read
    // is a fresh buffer (the garbage that made the client the largest share of a GET's CPU).
    const buffers = new Set(update.mock.calls.map(([chunk]) => (chunk as unknown as Buffer).buffer));
    expect(update.mock.calls.length).toBeGreaterThan(700);
    expect(buffers.size).toBeLessThanOrEqual(40);
  } finally {
    update.mockRestore();
    await client.close();
  }
});
