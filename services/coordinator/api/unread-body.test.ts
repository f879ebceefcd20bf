import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { sendThenRead } from "./testing/send-then-read";
import { DRAIN_LIMIT, LINGER_BYTES, LINGER_MS, settleUnreadBody } from "./unread-body";

// A server that refuses every request before reading a byte of its body, as the doors do with a 413,
// a 401 or a failed upload: what the client sees, and when the connection ends.

let server: Server;
let port: number;
let requests = 0;

beforeAll(async () => {
  // Answered within the 'request' event, before node has seen the end of any message.
  server = createServer((raw, res) => {
    requests++;
    settleUnreadBody(raw, res, { goAheadWithheld: raw.headers["x-withheld"] !== undefined });
    res.writeHead(raw.method === "GET" ? 401 : 413, { "content-length": "4" }).end("nope");
  });
  server.on("checkContinue", (raw, res) => server.emit("request", raw, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

const head = (length: number, extra = "") => `PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n${extra}\r\n`;

/** A socket that writes `first` and reads whatever comes until the connection closes. */
function exchange(first: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    socket.on("error", () => undefined); // the answer is what is looked at
    socket.on("close", () => resolve(text));
    socket.write(first);
  });
}

/**
 * Writes `first` on a fresh connection, waits for its answer, then writes `second` on the same
 * connection and waits for that answer too; resolves with the first answer's text.
 */
async function twoOnOneConnection(first: string, second: string): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  let text = "";
  socket.on("data", (d: Buffer) => {
    text += d.toString("latin1");
  });
  const answers = (n: number) => text.split("nope").length > n;
  try {
    socket.write(first);
    while (!answers(1)) await new Promise((r) => setTimeout(r, 5));
    const firstAnswer = text;
    socket.write(second);
    while (!answers(2)) await new Promise((r) => setTimeout(r, 5));
    return firstAnswer;
  } finally {
    socket.destroy();
  }
}

test("a small unread body is read and dropped: the connection is kept and answers the next request", async () => {
  const before = requests;
  // The head and a part of the body; the rest and a second request come once the first answer is in.
  const firstAnswer = await twoOnOneConnection(head(DRAIN_LIMIT) + "a".repeat(1000), "a".repeat(DRAIN_LIMIT - 1000) + head(0));
  expect(firstAnswer.toLowerCase()).toContain("connection: keep-alive");
  expect(requests - before).toBe(2);
});

test("a request without a body refused at once keeps its connection", async () => {
  const firstAnswer = await twoOnOneConnection("GET /x HTTP/1.1\r\nHost: x\r\n\r\n", "GET /y HTTP/1.1\r\nHost: x\r\n\r\n");
  expect(firstAnswer).toMatch(/^HTTP\/1\.1 401 /);
  expect(firstAnswer.toLowerCase()).toContain("connection: keep-alive");
});

test("a large body sent whole before the client reads: the answer arrives, with connection: close", async () => {
  const got = await sendThenRead(port, head(16 * 1024 * 1024), 16 * 1024 * 1024);
  expect(got.head).toMatch(/^HTTP\/1\.1 413 /);
  expect(got.head.toLowerCase()).toContain("connection: close");
  expect(got.error).toBeUndefined(); // closed once its body had ended: a FIN, not a reset
});

// The clients below keep their side open when the server's side ends (allowHalfOpen), as a client
// still sending its body does; node's default would end it for them on the server's FIN.

test("a client that sends slowly after its answer: its bytes are taken for LINGER_MS, then the connection is cut", async () => {
  const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  let text = "";
  let answeredAt = 0;
  socket.on("data", (d: Buffer) => {
    text += d.toString("latin1");
    answeredAt ||= Date.now();
  });
  const cut = new Promise<{ at: number; code?: string }>((resolve) =>
    socket.on("error", (e: NodeJS.ErrnoException) => resolve({ at: Date.now(), code: e.code })),
  );
  socket.write(head(1024 * 1024) + "a".repeat(64 * 1024));
  // 1 KiB every 50 ms: far below LINGER_BYTES, so only the time bound ends it.
  const trickle = setInterval(() => socket.write("a".repeat(1024)), 50);
  try {
    const { at, code } = await cut;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(code).toMatch(/ECONNRESET|EPIPE/);
    expect(at - answeredAt).toBeGreaterThanOrEqual(LINGER_MS - 50);
  } finally {
    clearInterval(trickle);
    socket.destroy();
  }
});

test("a client that sends past LINGER_BYTES after its answer is cut, having been answered", async () => {
  const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  let text = "";
  let error: string | undefined;
  socket.on("data", (d: Buffer) => {
    text += d.toString("latin1");
  });
  socket.on("error", (e: NodeJS.ErrnoException) => {
    error = e.code;
  });
  const closed = new Promise((resolve) => socket.on("close", resolve));
  const total = LINGER_BYTES + 8 * 1024 * 1024;
  socket.write(head(total));
  const piece = Buffer.alloc(1024 * 1024, 0x62);
  let sent = 0;
  const pump = (): void => {
    while (sent < total && !socket.destroyed) {
      sent += piece.length;
      if (!socket.write(piece)) {
        socket.once("drain", pump);
        return;
      }
    }
  };
  pump();
  await closed;
  expect(text).toMatch(/^HTTP\/1\.1 413 /);
  expect(error).toMatch(/ECONNRESET|EPIPE/);
  expect(sent).toBeLessThan(total);
});

test("Expect: 100-continue answered without the go-ahead: connection: close, however small the body", async () => {
  const text = await exchange(head(1024, "Expect: 100-continue\r\nx-withheld: 1\r\n"));
  expect(text).toMatch(/^HTTP\/1\.1 413 /);
  expect(text).not.toContain("100 Continue");
  expect(text.toLowerCase()).toContain("connection: close");
});
