import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { forgetKeyPair, rememberKeyPair } from "../deploy/launcher/client-credentials";
import { MiniS3Client, type ObjectClient } from "./client";
import { S3BenchClient } from "./s3-client";

// The small-object clients (client.ts, s3-client.ts; their answers read by dispatch.ts): every GET's
// body is checked against the sha256 and size of what was stored, every status is checked, each
// request carries the credentials the server needs, and all of it on kept-alive connections.

const stored = randomBytes(4096);
const expected = { sha256: createHash("sha256").update(stored).digest("hex"), size: stored.length };
/** Larger than a socket read: reaches the handler in several chunks. */
const big = randomBytes(3 * 1024 * 1024 + 5);
const bigExpected = { sha256: createHash("sha256").update(big).digest("hex"), size: big.length };

let server: Server;
let origin: string;
let connections = 0;
const seen: { method: string; url: string; headers: IncomingHttpHeaders; bytes: number }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (c: Buffer) => (bytes += c.length));
    req.on("end", () => {
      const url = req.url ?? "/";
      seen.push({ method: req.method ?? "", url, headers: req.headers, bytes });
      const key = new URL(url, "http://x").searchParams.get("key") ?? url.split("/").pop();
      if (key === "unavailable") return void res.writeHead(503).end("try later");
      if (key === "huge-error") return void res.writeHead(500, { "content-length": 2 * 1024 * 1024 }).end(Buffer.alloc(2 * 1024 * 1024));
      if (req.method !== "GET") return void res.writeHead(req.method === "DELETE" ? 204 : 200).end();
      if (key === "same") return void res.writeHead(200, { "content-length": stored.length }).end(stored);
      if (key === "big") return void res.writeHead(200, { "content-length": big.length }).end(big);
      if (key === "one-bit") {
        const changed = Buffer.from(stored);
        changed[100] ^= 1;
        return void res.writeHead(200).end(changed); // chunked, no content-length to give it away
      }
      if (key === "short") return void res.writeHead(200).end(stored.subarray(1));
      res.writeHead(404).end("no such key");
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  rememberKeyPair([origin], { accessKey: "MS3TESTKEY0000000000", secretKey: "s".repeat(40) });
});

afterAll(async () => {
  forgetKeyPair([origin]);
  await new Promise<void>((r) => server.close(() => r()));
});

describe.each([
  ["facade", () => new MiniS3Client(origin, 1, 5_000)],
  ["S3", () => new S3BenchClient(origin, "bkt", { accessKey: "AKTEST", secretKey: "secret" }, 1, 5_000)],
])("the %s client", (_, make) => {
  test("a GET counts only when its body is what was stored: one flipped bit or a byte short fails", async () => {
    const client = make();
    try {
      expect(await client.retrieve("same", expected)).toEqual({ ok: true, status: 200, bytes: 4096, sha256: expected.sha256 });
      expect(await client.retrieve("big", bigExpected)).toMatchObject({ ok: true, bytes: big.length, sha256: bigExpected.sha256 });
      expect(await client.retrieve("one-bit", expected)).toMatchObject({ ok: false, status: 200, reason: "checksum mismatch" });
      expect(await client.retrieve("short", expected)).toMatchObject({ ok: false, status: 200, reason: "size mismatch" });
      expect(await client.retrieve("big", expected)).toMatchObject({ ok: false, reason: "size mismatch" });
    } finally {
      await client.close();
    }
  });

  test("an answer that is not a 2xx fails with its status, and the connection is kept for the next request", async () => {
    const client = make();
    const before = connections;
    try {
      expect(await client.upload("unavailable", stored, stored.length)).toEqual({ ok: false, status: 503, reason: "http 503" });
      expect(await client.retrieve("missing", expected)).toEqual({ ok: false, status: 404, reason: "http 404", bytes: 0 });
      expect(await client.delete("unavailable")).toEqual({ ok: false, status: 503, reason: "http 503" });
      expect(await client.upload("k", stored, stored.length)).toEqual({ ok: true, status: 200 });
      expect(await client.delete("k")).toEqual({ ok: true, status: 204 });
      expect(connections - before).toBe(1);
      // An error body past the drain limit: the status still decides (the connection is dropped).
      expect(await client.delete("huge-error")).toEqual({ ok: false, status: 500, reason: "http 500" });
      expect(await client.retrieve("same", expected)).toMatchObject({ ok: true });
    } finally {
      await client.close();
    }
  });
});

/** An upload of `key`, a GET of "same", a delete of `key`: what the server saw of them. */
async function threeRequests(client: ObjectClient, key: string): Promise<typeof seen> {
  seen.length = 0;
  try {
    await client.upload(key, stored, stored.length);
    await client.retrieve("same", expected);
    await client.delete(key);
  } finally {
    await client.close();
  }
  return [...seen];
}

test("every facade request carries the bearer token, an upload its body and declared length", async () => {
  const got = await threeRequests(new MiniS3Client(origin, 1, 5_000), "a/b c");
  expect(got.map((r) => `${r.method} ${r.url}`)).toEqual([
    "POST /upload?key=a%2Fb%20c",
    "GET /retrieve?key=same",
    "DELETE /delete?key=a%2Fb%20c",
  ]);
  for (const r of got) expect(r.headers.authorization).toMatch(/^Bearer \S+$/);
  expect(got[0]).toMatchObject({ bytes: 4096, headers: { "content-length": "4096", "content-type": "application/octet-stream" } });
});

test("every S3 request is SigV4-signed for its own method and path", async () => {
  const got = await threeRequests(new S3BenchClient(origin, "bkt", { accessKey: "AKTEST", secretKey: "secret" }, 1, 5_000), "a/b");
  expect(got.map((r) => `${r.method} ${r.url}`)).toEqual(["PUT /bkt/a/b", "GET /bkt/same", "DELETE /bkt/a/b"]);
  const signatures = got.map((r) => {
    expect(r.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKTEST\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$/,
    );
    expect(r.headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
    return r.headers.authorization;
  });
  expect(new Set(signatures).size).toBe(3);
  expect(got[0].bytes).toBe(4096);
});

test("an upload given as chunks (the large phases') goes whole, at its declared length", async () => {
  const client = new MiniS3Client(origin, 1, 5_000);
  seen.length = 0;
  try {
    expect(await client.upload("chunks", [stored, big, stored], 2 * stored.length + big.length)).toEqual({ ok: true, status: 200 });
  } finally {
    await client.close();
  }
  expect(seen).toMatchObject([{ method: "POST", bytes: 2 * stored.length + big.length }]);
});
