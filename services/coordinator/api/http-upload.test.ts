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

/** PUTs `parts` (each written after `gapMs`), declaring `length`; once `cut` resolves, the socket is destroyed (after the last part). */
function put(
  parts: Buffer[],
  opts: { length?: number; gapMs?: number; cut?: Promise<void> } = {},
): Promise<{ bytes?: string; error?: string }> {
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
      if (opts.cut) {
        await opts.cut;
        req.destroy();
      } else req.end();
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

/** What reading a request cut short by its client came to, and the request's state when reading began. */
interface CutOutcome {
  error?: unknown;
  bytes?: number;
  destroyedWhenRead: boolean;
  completeWhenRead: boolean;
}

/**
 * One upload declaring `length` bytes whose client sends 1000 and then destroys its socket. The cut
 * waits on the server's handler, not on a timer: with `readFirst` the handler starts reading before
 * the client cuts; without it, the handler reads only once the request has closed. Answers when
 * reading has failed or ended, whatever the load on the machine.
 */
async function cutShort(length: number, readFirst: boolean): Promise<CutOutcome> {
  let cut!: () => void;
  const cutNow = new Promise<void>((r) => (cut = r));
  let settle!: (outcome: CutOutcome) => void;
  const outcome = new Promise<CutOutcome>((r) => (settle = r));
  handle = async (req) => {
    if (!readFirst) {
      const closed = new Promise((r) => req.once("close", r));
      cut();
      await closed;
    }
    const state = { destroyedWhenRead: req.destroyed, completeWhenRead: req.complete };
    const reading = collect(req);
    cut(); // (readFirst) requestBody has begun: its listeners, or the stream's iterator, are in place
    try {
      const body = await reading;
      settle({ bytes: body.length, ...state });
      return body;
    } catch (e) {
      settle({ error: e, ...state });
      throw e;
    }
  };
  const [, got] = await Promise.all([put([randomBytes(1000)], { length, cut: cutNow }), outcome]);
  return got;
}

test("a request paused before its body is read (declared small or large) is read all the same", async () => {
  for (const size of [4096, 200_000]) {
    const parts = [randomBytes(size / 2), randomBytes(size / 2)];
    handle = async (req) => {
      req.pause(); // something before the engine paused it: reading must resume it, not wait for ever
      return collect(req);
    };
    expect(await put(parts, { gapMs: 20 })).toEqual({ bytes: Buffer.concat(parts).toString("base64") });
  }
});

test("a body cut short by its client fails as aborted, whether reading had begun or not", async () => {
  // Reading began before the cut: a small declared body is taken whole by listeners, a larger one
  // (over 64 KiB) goes through the stream's iterator.
  for (const length of [5000, 200_000]) {
    expect(await cutShort(length, true)).toMatchObject({
      error: { code: ErrorCode.Aborted },
      destroyedWhenRead: false,
      completeWhenRead: false,
    });
  }
  // The cut came first: the request is already destroyed when reading begins.
  for (const length of [5000, 200_000]) {
    expect(await cutShort(length, false)).toMatchObject({
      error: { code: ErrorCode.Aborted },
      destroyedWhenRead: true,
      completeWhenRead: false,
    });
  }
});
