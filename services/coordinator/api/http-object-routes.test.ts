// The facade's object routes served before fastify (http-object-routes.ts): which requests take that
// path, and what they answer there that fastify's path answered before (request ids, 401, 500 with
// its log line, one reading of the query, 503 while stopping).
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import type { Logger } from "../../common/logger";
import { createHttpFacade } from "./http-facade";
import { objectRoutes } from "./http-object-routes";
import { MemoryObjectEngine } from "./testing/memory-engine";
import { TEST_KEYS } from "./testing/test-keys";

const MAX = 1024 * 1024;

let engine: MemoryObjectEngine;
let app: FastifyInstance;
let base: string;
let logged: Array<Record<string, unknown>>;
/** Every request fastify's own handler saw, as "METHOD path". */
let throughFastify: string[];

async function start(opts: { keys?: typeof TEST_KEYS } = {}): Promise<void> {
  engine = new MemoryObjectEngine({ maxObjectSize: MAX, readChunkSize: 16 * 1024 });
  logged = [];
  const lines = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: "info" }, lines) as unknown as Logger;
  app = createHttpFacade(engine, engine, { maxObjectSize: MAX, logger, ...opts });
  throughFastify = [];
  app.addHook("onRequest", (request, _reply, done) => {
    throughFastify.push(`${request.method} ${request.url.split("?", 1)[0]}`);
    done();
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

afterEach(() => app?.close());

test("raw uploads, GETs and deletes skip fastify; form uploads, HEAD and the other routes go through it", async () => {
  await start();
  expect((await fetch(`${base}/upload?key=a`, { method: "POST", body: "bytes" })).status).toBe(201);
  const got = await fetch(`${base}/retrieve?key=a`);
  expect(await got.text()).toBe("bytes");
  expect((await fetch(`${base}/delete?key=a`, { method: "DELETE" })).status).toBe(200);
  expect(throughFastify).toEqual([]);

  const form = new FormData();
  form.append("file", new Blob(["form bytes"], { type: "text/plain" }), "f.txt");
  expect((await fetch(`${base}/upload?key=f`, { method: "POST", body: form })).status).toBe(201);
  expect((await fetch(`${base}/retrieve?key=f`, { method: "HEAD" })).headers.get("content-length")).toBe("10");
  expect((await fetch(`${base}/stat?key=f`)).status).toBe(200);
  expect((await fetch(`${base}/retrieve?key=f`, { method: "PUT" })).status).toBe(405);
  expect(throughFastify).toEqual(["POST /upload", "HEAD /retrieve", "GET /stat", "PUT /retrieve"]);
  expect(engine.bytesOf("default", "f")?.toString()).toBe("form bytes");
});

test("a query read the same way on both paths: a name given twice is a 400 on either", async () => {
  await start();
  engine.store("default", "k", Buffer.from("x"));
  for (const path of ["/retrieve", "/stat"]) {
    const res = await fetch(`${base}${path}?key=k&key=k`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "InvalidArgument", message: 'query parameter "key" given more than once' });
  }
  // Percent-escapes and '+' decode alike on both paths.
  engine.store("default", "a b/c", Buffer.from("spaced"));
  expect(await (await fetch(`${base}/retrieve?key=a+b%2Fc`)).text()).toBe("spaced");
  expect((await fetch(`${base}/stat?key=a+b%2Fc`)).status).toBe(200);
});

test("without credentials an object route answers 401 with the request's id and stores nothing", async () => {
  await start({ keys: TEST_KEYS });
  const res = await fetch(`${base}/upload?key=secret`, { method: "POST", body: "x", headers: { "x-request-id": "refused-upload-1" } });
  expect(res.status).toBe(401);
  expect(res.headers.get("x-request-id")).toBe("refused-upload-1");
  expect(res.headers.get("www-authenticate")).toContain("AWS4-HMAC-SHA256");
  expect(await res.json()).toMatchObject({ error: "Unauthenticated" });
  expect(engine.bytesOf("default", "secret")).toBeUndefined();
});

test("an engine failure is a 500 JSON error, logged with the request's id", async () => {
  await start();
  engine.get = async () => {
    throw new Error("disk on fire");
  };
  const res = await fetch(`${base}/retrieve?key=a`, { headers: { "x-request-id": "failing-get-1" } });
  expect(res.status).toBe(500);
  expect(res.headers.get("x-request-id")).toBe("failing-get-1");
  expect(await res.json()).toEqual({ error: "InternalError", message: "disk on fire" });
  expect(logged).toContainEqual(
    expect.objectContaining({ level: 50, requestId: "failing-get-1", url: "/retrieve?key=a", msg: "request failed" }),
  );
});

test("a request that arrives while the facade closes, on a connection kept open by one in flight, is answered 503", async () => {
  await start();
  engine.store("default", "b", Buffer.from("bee"));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const get = engine.get.bind(engine);
  engine.get = async (bucket, key, range) => {
    if (key === "slow") {
      await gate;
      return get(bucket, "b", range);
    }
    return get(bucket, key, range);
  };
  const socket = connect((app.server.address() as AddressInfo).port, "127.0.0.1");
  let answers = "";
  socket.on("data", (d: Buffer) => (answers += d.toString("latin1")));
  const closed = new Promise<void>((r) => socket.on("close", () => r()));
  socket.write("GET /retrieve?key=slow HTTP/1.1\r\nHost: t\r\n\r\n");
  await sleep(50);
  const closing = app.close();
  await sleep(100); // fastify runs its preClose hooks
  socket.write("GET /retrieve?key=b HTTP/1.1\r\nHost: t\r\n\r\n");
  await sleep(50);
  release();
  await closed;
  await closing;
  const [first, second] = answers.split(/(?=HTTP\/1\.1 )/);
  expect(first).toMatch(/^HTTP\/1\.1 200 /);
  expect(first).toContain("bee");
  expect(second).toMatch(/^HTTP\/1\.1 503 /);
  expect(second.toLowerCase()).toContain("connection: close");
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("while the facade stops", () => {
  let server: Server;
  afterEach(() => new Promise((r) => server.close(r)));

  test("an object request is answered 503 on a closing connection; others are left to fastify", async () => {
    engine = new MemoryObjectEngine({ maxObjectSize: MAX });
    const route = objectRoutes(engine, { maxObjectSize: MAX }, () => true);
    server = createServer((req, res) => route(req, res) || res.writeHead(418).end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const at = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const res = await fetch(`${at}/retrieve?key=a`);
    expect(res.status).toBe(503);
    expect(res.headers.get("connection")).toBe("close");
    expect(await res.json()).toMatchObject({ error: "Unavailable" });
    expect((await fetch(`${at}/stat?key=a`)).status).toBe(418);
  });
});
