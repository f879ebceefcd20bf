// The facade's credentials (issue 14 item 4): SigV4 (curl --aws-sigv4, aws4) or a bearer token;
// 401 without valid credentials, 403 for a bucket or operator route the key may not use; /healthz open.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import aws4 from "aws4";
import type { FastifyInstance } from "fastify";
import { mintBearerToken } from "../../auth/bearer-token";
import { createHttpFacade } from "./http-facade";
import { MemoryObjectEngine } from "./testing/memory-engine";
import { ADMIN, PHOTOS, TEST_KEYS } from "./testing/test-keys";

const keys = TEST_KEYS;

let engine: MemoryObjectEngine;
let app: FastifyInstance;
let base: string;

beforeEach(async () => {
  engine = new MemoryObjectEngine({ maxObjectSize: 1024 * 1024, readChunkSize: 16 * 1024 });
  app = createHttpFacade(engine, engine, { maxObjectSize: 1024 * 1024, keys });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterEach(() => app.close());

const bearer = (pair: { accessKey: string; secretKey: string }) => ({
  authorization: `Bearer ${mintBearerToken(pair.accessKey, pair.secretKey)}`,
});
const sha256 = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

test("without credentials: 401 Unauthenticated and nothing stored; /healthz stays open", async () => {
  const up = await call("POST", "/upload?key=a", {}, "hello");
  expect(up).toEqual({ status: 401, json: { error: "Unauthenticated", message: expect.stringContaining("--aws-sigv4") } });
  expect(engine.objects.size).toBe(0);
  for (const path of [
    "/retrieve?key=a",
    "/objects",
    "/status",
    "/status/transitions",
    "/status/timeline",
    "/status/upcoming",
    "/trash",
    "/stat?key=a",
  ])
    expect((await call("GET", path)).status).toBe(401);
  expect((await call("GET", "/healthz")).status).toBe(200);
});

test("a bearer token made from the key pair is served; one made with another secret is 401 and stores nothing", async () => {
  expect((await call("POST", "/upload?key=a", bearer(ADMIN), "hello")).status).toBe(201);
  const got = await fetch(`${base}/retrieve?key=a`, { headers: bearer(ADMIN) });
  expect(await got.text()).toBe("hello");
  const forged = await call("POST", "/upload?key=b", bearer({ ...ADMIN, secretKey: ADMIN.secretKey + "x" }), "evil");
  expect(forged).toMatchObject({ status: 401, json: { error: "SignatureDoesNotMatch" } });
  expect([...engine.objects.keys()].some((k) => k.includes("b"))).toBe(false);
});

test("a key limited to some buckets: its buckets yes, others and operator routes 403", async () => {
  expect((await call("POST", "/upload?key=a&bucket=photos-2026", bearer(PHOTOS), "x")).status).toBe(201);
  expect(await call("POST", "/upload?key=a&bucket=accounts", bearer(PHOTOS), "x")).toMatchObject({
    status: 403,
    json: { error: "AccessDenied" },
  });
  expect((await call("GET", "/objects?bucket=accounts", bearer(PHOTOS))).status).toBe(403);
  expect((await call("GET", "/retrieve?key=a", bearer(PHOTOS))).status).toBe(403); // the default bucket
  expect((await call("GET", "/status", bearer(PHOTOS))).status).toBe(403);
  expect((await call("GET", "/status/transitions", bearer(PHOTOS))).status).toBe(403);
  expect((await call("GET", "/status/upcoming", bearer(PHOTOS))).status).toBe(403);
  expect((await call("GET", "/status/timeline", bearer(PHOTOS))).status).toBe(403);
  expect((await call("POST", "/admin/nodes/storage-1/remove", bearer(PHOTOS))).status).toBe(403);
  expect((await call("GET", "/status", bearer(ADMIN))).status).toBe(200);
  expect(await call("GET", "/status/transitions", bearer(ADMIN))).toEqual({ status: 200, json: { transitions: [] } });
  expect(await call("GET", "/status/timeline?since=32503680000000", bearer(ADMIN))).toEqual({ status: 200, json: { timeline: [] } });
});

test("SigV4 (aws4): the signed body hash is checked as the body streams; a body that differs is refused and not stored", async () => {
  const url = new URL(base);
  const sign = (path: string, body: string, signedHash: string) =>
    aws4.sign(
      { host: url.host, path, method: "POST", service: "s3", region: "us-east-1", body, headers: { "x-amz-content-sha256": signedHash } },
      { accessKeyId: ADMIN.accessKey, secretAccessKey: ADMIN.secretKey },
    ).headers as Record<string, string>;
  expect((await call("POST", "/upload?key=signed", sign("/upload?key=signed", "exact", sha256("exact")), "exact")).status).toBe(201);
  const swapped = await call("POST", "/upload?key=swapped", sign("/upload?key=swapped", "other", sha256("signed-for-this")), "other");
  expect(swapped).toMatchObject({ status: 400, json: { error: "BadDigest" } });
  expect([...engine.objects.keys()].some((k) => k.includes("swapped"))).toBe(false);
});

const run = promisify(execFile);

test("real curl --aws-sigv4: upload, retrieve with a query curl signs as written, and a wrong secret 401", async () => {
  const sigv4 = (pair: { accessKey: string; secretKey: string }) => [
    "--aws-sigv4",
    "aws:amz:us-east-1:s3",
    "--user",
    `${pair.accessKey}:${pair.secretKey}`,
  ];
  const curl = async (args: string[]) => (await run("curl", ["-s", "-w", "\n%{http_code}", ...args])).stdout.split("\n");
  const up = await curl([
    ...sigv4(ADMIN),
    "-H",
    "x-amz-content-sha256: UNSIGNED-PAYLOAD",
    "--data-binary",
    "from curl",
    `${base}/upload?key=dir/file.txt&bucket=docs`,
  ]);
  expect(up.at(-1)).toBe("201");
  const down = await curl([...sigv4(ADMIN), `${base}/retrieve?key=dir/file.txt&bucket=docs`]);
  expect(down).toEqual(["from curl", "200"]);
  const wrong = await curl([
    ...sigv4({ ...ADMIN, secretKey: "not-the-secret-at-all-000" }),
    `${base}/retrieve?key=dir/file.txt&bucket=docs`,
  ]);
  expect(wrong.at(-1)).toBe("401");
});
