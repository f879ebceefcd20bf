/**
 * Micro-benchmark (not a test): what the HTTP facade's own layer costs per small request. A child
 * process serves the overwrite row's load (45:45:10 over 1,000 keys, 4 KiB, 32 in flight, bearer
 * tokens, sent from this process) in one of three shapes, and its CPU per request is the figure:
 * - bare: node:http answering as the facade does, and nothing else;
 * - lean: the facade's own pieces (credentials, request id, request metrics, views, error table)
 *   on bare node:http, no fastify, written out here;
 * - facade: `createHttpFacade` itself, with a pino logger as the coordinator passes one (since
 *   2026-12-05 its object routes answer before fastify: api/http-object-routes.ts);
 * - s3: the S3 endpoint (`s3Router` on `createS3Server`) with the same engine, every request signed
 *   by the bench's S3 client (aws4, UNSIGNED-PAYLOAD) as in the bench's S3 rows.
 * The last two serve an engine that reads each upload's body and answers at once with a fixed
 * version: no cluster, catalogue, node or digest is in the figure. Passes alternate the shapes.
 *
 *   node dist/bench/micro/facade-http.js [seconds=5] [passes=3] [inFlight=32] [modes=bare,lean,facade,s3]
 */
import { fork, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { rememberKeyPair } from "../../deploy/launcher/client-credentials";
import { KeyStore } from "../../services/auth/keys";
import { authenticateRequest } from "../../services/auth/request-credentials";
import { headersFromRaw } from "../../services/auth/sigv4/canonical";
import { acceptRequestId, REQUEST_ID_HEADER } from "../../services/common/request-context";
import { measureRequest, nameOperation } from "../../services/common/metrics/http-metrics";
import { callerOfIdentity } from "../../services/coordinator/api/caller";
import { errorResponse } from "../../services/coordinator/api/http-errors";
import { requestBody } from "../../services/coordinator/api/http-upload";
import { deletedJson, objectHeaders, uploadedJson } from "../../services/coordinator/api/http-views";
import { checkKey } from "../../services/coordinator/objects/names";
import type { ClusterAdmin } from "../../services/coordinator/admin/cluster-admin";
import { createHttpFacade } from "../../services/coordinator/api/http-facade";
import type { ObjectView } from "../../services/coordinator/model/object-view";
import type { GetResult, ObjectEngine, PutInput } from "../../services/coordinator/objects/object-engine";
import { MiniS3Client, type ObjectClient } from "../client";
import { S3BenchClient } from "../s3-client";
import { readConfig } from "../../services/common/config";
import { createS3Endpoint } from "../../services/coordinator/api/s3/s3-endpoint";
import type { S3Deps } from "../../services/coordinator/api/s3/router";
import { HTTP_TIMEOUT_SETTINGS, httpTimeouts } from "../../services/coordinator/api/http-timeouts";
import type { BucketEngine } from "../../services/coordinator/objects/object-engine";
import type { MultipartEngine } from "../../services/coordinator/objects/multipart-engine";
import { loadFor } from "./timed-load";

const SIZE = 4096;
const KEYS = 1000;
const PAIR = { accessKey: "MS3MICRO000000000000", secretKey: "m".repeat(40) };
const BODY = Buffer.alloc(SIZE, 7);

type Mode = "bare" | "lean" | "facade" | "s3";

/** A server that reads each request whole and answers as the facade does, and nothing else. */
function bareServer(): Promise<number> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method === "GET") res.writeHead(200, { "content-type": "application/octet-stream", "content-length": SIZE }).end(BODY);
      else if (req.method === "DELETE") res.writeHead(204).end();
      else res.writeHead(201, { "content-type": "application/json" }).end('{"key":"k"}');
    });
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port)));
}

/** The engine's answers, made once: the facade's own work is what is measured. */
const VIEW: ObjectView = {
  bucket: "default",
  key: "k",
  versionId: "0000000000000000-micro",
  size: SIZE,
  sha256: createHash("sha256").update(BODY).digest("hex"),
  etag: createHash("md5").update(BODY).digest("hex"),
  contentType: "application/octet-stream",
  tier: "hot",
  createdAtMs: 0,
  lastAccessedAtMs: 0,
  replicas: ["n1", "n2"],
  metadata: {},
};

async function* oneChunk(): AsyncGenerator<Buffer> {
  yield BODY;
}

const stubEngine = {
  async put(input: PutInput): Promise<ObjectView> {
    for await (const chunk of input.body) void chunk;
    return VIEW;
  },
  async get(): Promise<GetResult> {
    return { object: VIEW, offset: 0, length: SIZE, servedFrom: "hot", body: oneChunk() };
  },
  async delete(bucket: string, key: string) {
    return { bucket, key, versionId: VIEW.versionId, purgeAtMs: 0 };
  },
};

/**
 * The three routes on bare node:http with the facade's own pieces (credentials, request id,
 * metrics, views, error table) and none of fastify's: what a fastify-free hot path would cost.
 */
function leanServer(): Promise<number> {
  const keys = KeyStore.fromFileContent({ users: [{ name: "micro", keys: [PAIR], buckets: "*" }] });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.setHeader(REQUEST_ID_HEADER, acceptRequestId(req.headers[REQUEST_ID_HEADER]));
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    const who = authenticateRequest(
      { method: req.method ?? "GET", path, query: q < 0 ? "" : url.slice(q + 1), headers: headersFromRaw(req.rawHeaders) },
      keys,
    );
    if (!who) throw new Error("unauthenticated");
    const caller = callerOfIdentity(who.identity);
    const bucket = caller.bucket(query.get("bucket") ?? undefined);
    const key = checkKey(query.get("key") ?? undefined);
    if (req.method === "POST" && path === "/upload") {
      nameOperation(res, "facade", "POST /upload");
      const view = await stubEngine.put({ bucket, key, metadata: {}, contentType: "", body: requestBody(req), requestId: "r" });
      res.writeHead(201, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(uploadedJson(view)));
    } else if (req.method === "GET" && path === "/retrieve") {
      nameOperation(res, "facade", "GET /retrieve");
      const got = await stubEngine.get();
      const headers = objectHeaders(got.object, got.servedFrom);
      headers["content-length"] = String(got.length);
      const parts: Buffer[] = [];
      for await (const c of got.body) parts.push(c);
      res.writeHead(200, headers).end(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    } else if (req.method === "DELETE" && path === "/delete") {
      nameOperation(res, "facade", "DELETE /delete");
      res
        .writeHead(200, { "content-type": "application/json; charset=utf-8" })
        .end(JSON.stringify(deletedJson(await stubEngine.delete(bucket, key))));
    } else throw new Error("no route");
  };
  const server = createServer((req, res) => {
    measureRequest("facade", req, res);
    handle(req, res).catch((e) => {
      const { statusCode, body } = errorResponse(e);
      res.writeHead(statusCode, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
    });
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port)));
}

async function facadeServer(): Promise<number> {
  const keys = KeyStore.fromFileContent({ users: [{ name: "micro", keys: [PAIR], buckets: "*" }] });
  // A logger as the coordinator passes one (its level's default, lines to nowhere): fastify makes a child
  // of it for each request.
  const logger = pino({ level: "info", base: { service: "coordinator" } }, pino.destination("/dev/null"));
  const app = createHttpFacade(stubEngine as unknown as ObjectEngine, {} as ClusterAdmin, { maxObjectSize: 1 << 20, keys, logger });
  await app.listen({ port: 0, host: "127.0.0.1" });
  return (app.server.address() as AddressInfo).port;
}

async function s3Server(): Promise<number> {
  const keys = KeyStore.fromFileContent({ users: [{ name: "micro", keys: [PAIR], buckets: "*" }] });
  const logger = pino({ level: "info", base: { service: "coordinator" } }, pino.destination("/dev/null"));
  const deps: S3Deps = {
    engine: stubEngine as unknown as ObjectEngine,
    buckets: { requireBucket: async () => undefined } as unknown as BucketEngine,
    multipart: {} as MultipartEngine,
    maxObjectSize: 1 << 20,
    region: "us-east-1",
  };
  const server = createS3Endpoint(deps, { keys, domain: "", timeouts: httpTimeouts(readConfig(HTTP_TIMEOUT_SETTINGS, {})), logger });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port)));
}

/** The child: serves, and answers each "cpu" message with its process CPU so far (µs). */
async function serve(mode: Mode): Promise<void> {
  const port =
    mode === "bare" ? await bareServer() : mode === "lean" ? await leanServer() : mode === "s3" ? await s3Server() : await facadeServer();
  process.on("SIGINT", () => process.exit(0));
  process.on("message", () => {
    const c = process.cpuUsage();
    process.send!({ cpu: c.user + c.system });
  });
  process.send!({ port });
}

function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((r) => {
    child.once("message", (m: { cpu: number }) => r(m.cpu));
    child.send("cpu");
  });
}

async function pass(mode: Mode, seconds: number, inFlight: number): Promise<{ opsPerSec: number; serverMicrosPerOp: number }> {
  // MICRO_CPU_PROF=DIR: the server child under node --cpu-prof, into DIR.
  const prof = process.env.MICRO_CPU_PROF;
  const child = fork(__filename, ["serve", mode], prof ? { execArgv: ["--cpu-prof", "--cpu-prof-dir", prof] } : {});
  const { port } = await new Promise<{ port: number }>((r) => child.once("message", r));
  const origin = `http://127.0.0.1:${port}`;
  rememberKeyPair([origin], PAIR);
  const client: ObjectClient =
    mode === "s3" ? new S3BenchClient(origin, "micro", PAIR, inFlight, 10_000) : new MiniS3Client(origin, inFlight, 10_000);
  const expected = { sha256: createHash("sha256").update(BODY).digest("hex"), size: SIZE };
  for (let k = 0; k < KEYS; k++) if (!(await client.upload(`k${k}`, BODY, SIZE)).ok) throw new Error(`${mode}: seeding k${k} failed`);
  let failed = 0;
  // 45:45:10, in a fixed order. A delete leaves a key that a GET may miss (404) until it is put back.
  const runFor = (ms: number): Promise<number> =>
    loadFor(ms, inFlight, async (w, i) => {
      const pick = (w * 7 + i) % 20;
      const key = `k${(w * 131 + i * 17) % KEYS}`;
      const r =
        pick < 9 ? await client.upload(key, BODY, SIZE) : pick < 18 ? await client.retrieve(key, expected) : await client.delete(key);
      if (pick >= 18 && r.ok) await client.upload(key, BODY, SIZE);
      if (!r.ok && !(pick >= 9 && pick < 18 && r.status === 404)) failed++;
    });
  await runFor(1000);
  const cpu0 = await cpuOf(child);
  const t0 = Date.now();
  const ops = await runFor(seconds * 1000);
  const cpu = (await cpuOf(child)) - cpu0;
  const secs = (Date.now() - t0) / 1000;
  await client.close();
  child.kill("SIGINT"); // lets --cpu-prof write its profile
  if (failed) throw new Error(`${mode}: ${failed} requests failed`);
  return { opsPerSec: Math.round(ops / secs), serverMicrosPerOp: Math.round((cpu / ops) * 10) / 10 };
}

async function bench(): Promise<void> {
  const [seconds = 5, passes = 3, inFlight = 32] = process.argv.slice(2, 5).map(Number);
  const modes = (process.argv[5] ?? "bare,lean,facade,s3").split(",") as Mode[];
  for (let p = 0; p < passes; p++)
    for (const mode of modes) console.log(JSON.stringify({ pass: p + 1, mode, ...(await pass(mode, seconds, inFlight)) }));
}

if (process.argv[2] === "serve") void serve(process.argv[3] as Mode);
else void bench();
