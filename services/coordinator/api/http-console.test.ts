// The web console's contract with the facade (README "Web console"): its files are open, nothing
// under /console reaches data, and what the page signs in the browser (console/signing.js, run here
// as written, with WebCrypto and with its plain-JS fallback) is what the server's verifiers accept.
import { createHash, createHmac, randomBytes } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { mintBearerToken } from "../../auth/bearer-token";
import { bearerToken, cryptoFor, hmacFallback, presignedPath, sha256Fallback, toHex } from "../../../console/signing.js";
import { createHttpFacade } from "./http-facade";
import { MemoryObjectEngine } from "./testing/memory-engine";
import { ADMIN, TEST_KEYS } from "./testing/test-keys";

let engine: MemoryObjectEngine;
let app: FastifyInstance;
let base: string;
let host: string;

beforeEach(async () => {
  engine = new MemoryObjectEngine({ maxObjectSize: 1024 * 1024, readChunkSize: 16 * 1024 });
  app = createHttpFacade(engine, engine, { maxObjectSize: 1024 * 1024, keys: TEST_KEYS });
  await app.listen({ host: "127.0.0.1", port: 0 });
  host = `127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  base = `http://${host}`;
});
afterEach(() => app.close());

/** A GET with the path sent byte for byte as given (fetch would resolve `..` first). */
function rawGet(path: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: Number(host.split(":")[1]), path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

const both = [
  { name: "WebCrypto", c: cryptoFor(true) },
  { name: "plain-JS fallback", c: cryptoFor(false) },
];

test("the console's page, scripts and vendored Preact/htm are served without credentials, with a CSP that admits the import map", async () => {
  const bare = await rawGet("/console");
  expect(bare.status).toBe(301);
  expect(bare.headers.location).toBe("/console/");

  const page = await rawGet("/console/");
  expect(page.status).toBe(200);
  expect(page.headers["content-type"]).toMatch(/^text\/html/);
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page.body)![1];
  const hash = createHash("sha256").update(importMap).digest("base64");
  expect(page.headers["content-security-policy"]).toContain(`script-src 'self' 'sha256-${hash}'`);
  expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'");

  // Every module the import map names, and the page's own, load as JavaScript.
  const modules = Object.values((JSON.parse(importMap) as { imports: Record<string, string> }).imports);
  for (const path of [...modules.map((m) => `/console/${m.replace(/^\.\//, "")}`), "/console/app.js", "/console/signing.js"]) {
    const res = await rawGet(path);
    expect({ path, status: res.status }).toEqual({ path, status: 200 });
    expect(res.headers["content-type"]).toMatch(/javascript/);
  }
  // Nothing else of node_modules: only the packages' scripts.
  expect((await rawGet("/console/vendor/preact/package.json")).status).toBe(404);
});

test("nothing under /console reaches data or the files around it", async () => {
  for (const path of [
    "/console/../status",
    "/console/%2e%2e/status",
    "/console/..%2fstatus",
    "/console/../../package.json",
    "/console/%2e%2e/%2e%2e/package.json",
    "/console/vendor/preact/../../../package.json",
    "/console/vendor/htm/..%2f..%2f..%2fpackage.json",
  ]) {
    const res = await rawGet(path);
    expect({ path, status: res.status }).toEqual({ path, status: expect.any(Number) });
    expect({ path, ok: res.status >= 200 && res.status < 300 }).toEqual({ path, ok: false });
    expect(res.body).not.toContain('"nodes"');
    expect(res.body).not.toContain('"name": "minis3"');
  }
  // A data call is still a data call: signed or refused.
  expect((await rawGet("/status")).status).toBe(401);
});

test.each(both)("signing.js's SHA-256 and HMAC-SHA256 ($name) agree with node:crypto", async ({ c }) => {
  for (const size of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 70_000]) {
    const data = randomBytes(size);
    expect(toHex(await c.sha256(data))).toBe(createHash("sha256").update(data).digest("hex"));
    for (const key of [randomBytes(20), randomBytes(64), randomBytes(100)]) {
      expect(toHex(await c.hmac(key, data))).toBe(createHmac("sha256", key).update(data).digest("hex"));
    }
  }
  expect(toHex(sha256Fallback("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  expect(toHex(hmacFallback("key", "The quick brown fox jumps over the lazy dog"))).toBe(
    "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
  );
});

test.each(both)(
  "a bearer token made by the page ($name) is the server's own, served by the facade; a wrong secret's is 401",
  async ({ c }) => {
    const now = Date.now();
    expect(await bearerToken(ADMIN.accessKey, ADMIN.secretKey, now, c)).toBe(mintBearerToken(ADMIN.accessKey, ADMIN.secretKey, now));
    const token = await bearerToken(ADMIN.accessKey, ADMIN.secretKey, now, c);
    const up = await fetch(`${base}/upload?key=console/a.txt`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: "hi",
    });
    expect(up.status).toBe(201);
    const wrong = await bearerToken(ADMIN.accessKey, "not-the-secret-at-all", now, c);
    const refused = await fetch(`${base}/objects`, { headers: { authorization: `Bearer ${wrong}` } });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: "SignatureDoesNotMatch" });
  },
);

test.each(both)("a presigned download link made by the page ($name) reads the object; changed or expired, it is refused", async ({ c }) => {
  const key = "photos/2026/a cat (1)!*'~.jpg";
  const body = randomBytes(3000);
  const put = await fetch(`${base}/upload?key=${encodeURIComponent(key)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${mintBearerToken(ADMIN.accessKey, ADMIN.secretKey)}` },
    body,
  });
  expect(put.status).toBe(201);

  const sign = (nowMs: number, params: Record<string, string> = { bucket: "default", key }) =>
    presignedPath({ ...ADMIN, host, path: "/retrieve", params, nowMs }, c);
  const link = await sign(Date.now());
  const got = await fetch(`${base}${link}`);
  expect(got.status).toBe(200);
  expect(Buffer.from(await got.arrayBuffer())).toEqual(body);

  // Another key under the same signature: refused, and no bytes.
  const other = link.replace(encodeURIComponent("cat"), "dog");
  expect(other).not.toBe(link);
  expect((await fetch(`${base}${other}`)).status).toBe(401);
  // Made ten minutes ago with five minutes to live.
  expect((await fetch(`${base}${await sign(Date.now() - 600_000)}`)).status).toBe(403);
});
