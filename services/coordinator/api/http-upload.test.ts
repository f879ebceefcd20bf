import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ErrorCode } from "../../common/errors";
import { requestBody } from "./http-upload";

// requestBody against real sockets: a body that has all arrived before it is read (read off in one
// piece), one still arriving (a small one taken whole by listeners, a larger one through the stream's
// iterator), and one cut short by its client.

let server: Server;
let port: number;
/** What the next request's handler does with its request; answers the bytes read (base64), or the error's code. */
let handle: (req: IncomingMessage) => Promise<Buffer>;

beforeAll(async () => {
  server = createServer((req, res) => {
    handle(req).then(
      (body) => res.end(JSON.stringify({ bytes: body.toString("base64") })),
      (e: { code?: string }) => res.end(JSON.stringify({ error: e.code })),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((r) => server.close(r)));

async function collect(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of requestBody(req)) parts.push(p);
  return Buffer.concat(parts);
}

/** PUTs `parts` (each written after `gapMs`), declaring `length`; `cut` destroys the socket after the last part. */
function put(parts: Buffer[], opts: { length?: number; gapMs?: number; cut?: boolean } = {}): Promise<{ bytes?: string; error?: string }> {
  const length = opts.length ?? parts.reduce((n, p) => n + p.length, 0);
  return new Promise((resolve, reject) => {
    const req = request({ port, host: "127.0.0.1", method: "PUT", path: "/", headers: { "content-length": length } }, (res) => {
      const got: Buffer[] = [];
      res.on("data", (c: Buffer) => got.push(c));
      res.on("end", () => resolve(JSON.parse(Buffer.concat(got).toString()) as { bytes?: string; error?: string }));
    });
    req.on("error", () => resolve({})); // the cut request's own socket
    (async () => {
      for (const p of parts) {
        req.write(p);
        await new Promise((r) => setTimeout(r, opts.gapMs ?? 0));
      }
      if (opts.cut) req.destroy();
      else req.end();
    })().catch(reject);
  });
}

const settled = () => new Promise((r) => setTimeout(r, 50));

test("a body that has all arrived is read whole, and the stream ends (the connection serves the next request)", async () => {
  for (const size of [1, 4096, 60_000]) {
    const body = randomBytes(size);
    let complete: boolean | undefined;
    handle = async (req) => {
      await settled();
      complete = req.complete;
      const got = await collect(req);
      await new Promise((r) => setImmediate(r));
      if (!req.readableEnded) throw Object.assign(new Error("not ended"), { code: "not ended" });
      return got;
    };
    expect(await put([body])).toEqual({ bytes: body.toString("base64") });
    expect(complete).toBe(true); // the premise: the fast path was the one taken
  }
});

test("an empty body yields nothing", async () => {
  handle = async (req) => {
    await settled();
    return collect(req);
  };
  expect(await put([])).toEqual({ bytes: "" });
});

test("a body still arriving is read in order as it comes", async () => {
  const parts = Array.from({ length: 5 }, () => randomBytes(70_000));
  handle = collect;
  expect(await put(parts, { gapMs: 10 })).toEqual({ bytes: Buffer.concat(parts).toString("base64") });
  const big = randomBytes(3 * 1024 * 1024); // more than node buffers unread: never complete before it is read
  handle = async (req) => {
    await settled();
    expect(req.complete).toBe(false);
    return collect(req);
  };
  expect(await put([big])).toEqual({ bytes: big.toString("base64") });
});

test("a small body still arriving (declared up to 64 KiB) is read whole once it has all come, in order", async () => {
  const parts = Array.from({ length: 4 }, () => randomBytes(4000));
  let complete: boolean | undefined;
  handle = (req) => {
    complete = req.complete;
    return collect(req);
  };
  expect(await put(parts, { gapMs: 10 })).toEqual({ bytes: Buffer.concat(parts).toString("base64") });
  expect(complete).toBe(false); // the premise: it had not all arrived when reading began
});

test("a body cut short by its client fails as aborted, whether reading had begun or not", async () => {
  let failed: unknown;
  handle = (req) =>
    collect(req).catch((e: unknown) => {
      failed = e;
      throw e;
    });
  await put([randomBytes(1000)], { length: 5000, cut: true });
  await settled();
  expect(failed).toMatchObject({ code: ErrorCode.Aborted });
  failed = undefined;
  handle = async (req) => {
    await settled();
    return collect(req).catch((e: unknown) => {
      failed = e;
      throw e;
    });
  };
  await put([randomBytes(1000)], { length: 5000, cut: true });
  await settled();
  await settled();
  expect(failed).toMatchObject({ code: ErrorCode.Aborted });
});
