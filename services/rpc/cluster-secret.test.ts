import * as grpc from "@grpc/grpc-js";
import * as http from "node:http";
import { join } from "node:path";
import { DiskBackend } from "../blobstore/disk-backend";
import { ErrorCode, hasCode } from "../common/errors";
import { NodeClient } from "./client/node-client";
import { BLOB_PATH, CODE_FIELD } from "./blob-plane";
import { CLUSTER_SECRET_HEADER, sameSecret } from "./cluster-secret";
import { NodeServiceClient } from "./gen/minis3/v1/node";
import { startNodeServer, type RunningNodeServer } from "./server/node-server";
import { blobOf, silentLog, tempDir } from "./testing/test-helpers";

// Node-to-node gRPC requires the cluster secret (issue 14 item 4): a stranger who reaches a storage
// node's port can neither read, write nor delete, and learns nothing but "unauthenticated".

const CHUNK = 64 * 1024;
const SECRET = "s3cr3t-0f-th1s-clust3r-f0r-t3sts";

let dir: { path: string; remove(): Promise<void> };
let backend: DiskBackend;
let server: RunningNodeServer;
let address: string;
let member: NodeClient;
const small = blobOf(1000);
const large = blobOf(3 * CHUNK + 5);

beforeAll(async () => {
  dir = await tempDir("secret");
  backend = new DiskBackend({ dataDir: join(dir.path), chunkSize: CHUNK, log: silentLog, compactIntervalMs: 0 });
  await backend.open();
  server = await startNodeServer(backend, "127.0.0.1", 0, { id: "node-s", chunkSize: CHUNK, log: silentLog, clusterSecret: SECRET });
  address = `127.0.0.1:${server.port}`;
  member = new NodeClient("node-s", address, { deadlineMs: 5000, clusterSecret: SECRET });
  await member.putSmall("small", {}, small.data, small.sha256);
  const up = member.writeBlob("large", {});
  await up.write(large.data);
  await up.finish(large.data.length, large.sha256);
});

afterAll(async () => {
  member.close();
  await server.stop(500);
  await backend.close();
  await dir.remove();
});

async function refused(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => "served",
    (e: unknown) => (hasCode(e, ErrorCode.InvalidConfig) ? "refused" : e),
  );
}

test("a raw gRPC client without the secret gets UNAUTHENTICATED; with it, an answer", async () => {
  const raw = new NodeServiceClient(address, grpc.credentials.createInsecure());
  const getInfo = (md: grpc.Metadata) =>
    new Promise<{ code: number; id?: string }>((resolve) =>
      raw.getInfo({}, md, { deadline: Date.now() + 5000 }, (err, r) => resolve(err ? { code: err.code } : { code: 0, id: r.id })),
    );
  try {
    expect(await getInfo(new grpc.Metadata())).toEqual({ code: grpc.status.UNAUTHENTICATED });
    const wrong = new grpc.Metadata();
    wrong.set(CLUSTER_SECRET_HEADER, "not-the-secret-of-this-cluster");
    expect(await getInfo(wrong)).toEqual({ code: grpc.status.UNAUTHENTICATED });
    const right = new grpc.Metadata();
    right.set(CLUSTER_SECRET_HEADER, SECRET);
    expect(await getInfo(right)).toEqual({ code: 0, id: "node-s" });
  } finally {
    raw.close();
  }
});

test("a raw HTTP read of the blob plane without the secret is refused with no bytes; with it, the blob", async () => {
  const get = (headers: Record<string, string>) =>
    new Promise<{ status: number; code?: string; body: Buffer }>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: server.port, path: `${BLOB_PATH}large`, headers }, (res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () => resolve({ status: res.statusCode!, code: res.headers[CODE_FIELD] as string, body: Buffer.concat(parts) }));
        })
        .on("error", reject);
    });
  expect(await get({})).toMatchObject({ status: 401, code: ErrorCode.InvalidConfig, body: Buffer.alloc(0) });
  expect(await get({ [CLUSTER_SECRET_HEADER]: "not-the-secret-of-this-cluster" })).toMatchObject({ status: 401, body: Buffer.alloc(0) });
  const served = await get({ [CLUSTER_SECRET_HEADER]: SECRET });
  expect(served.status).toBe(200);
  expect(served.body.equals(large.data)).toBe(true);
});

test("a raw HTTP PUT to the blob plane without the secret is refused before any byte of its body; nothing is planted", async () => {
  // Asking for "100 Continue", as the coordinator does: the refusal comes instead, so no byte is sent.
  const asking = await new Promise<{ status: number; code?: string; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = http.request({
      host: "127.0.0.1",
      port: server.port,
      method: "PUT",
      path: `${BLOB_PATH}planted-put`,
      headers: { expect: "100-continue" },
    });
    req.on("continue", () => {
      continued = true;
      req.end(large.data);
    });
    req.on("response", (res) => {
      res.resume();
      req.destroy();
      resolve({ status: res.statusCode!, code: res.headers[CODE_FIELD] as string, continued });
    });
    req.on("error", reject);
    req.flushHeaders();
  });
  expect(asking).toEqual({ status: 401, code: ErrorCode.InvalidConfig, continued: false });
  // Sending its body at once, with a wrong secret: refused all the same, and the connection closed.
  const pushing = await new Promise<{ status: number; connection?: string }>((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: server.port,
      method: "PUT",
      path: `${BLOB_PATH}planted-put`,
      headers: { [CLUSTER_SECRET_HEADER]: "not-the-secret-of-this-cluster" },
    });
    req.on("response", (res) => {
      res.resume();
      resolve({ status: res.statusCode!, connection: res.headers.connection });
    });
    req.on("error", reject);
    req.end(large.data);
  });
  expect(pushing).toEqual({ status: 401, connection: "close" });
  expect(await member.statBlob("planted-put")).toBeNull();
});

test.each([
  ["without a secret", undefined],
  ["with another secret", "another-cluster-secret-entirely"],
])("a client %s is refused on every call (Exchange and streams) and changes nothing", async (_what, secret) => {
  const stranger = new NodeClient("node-s", address, { deadlineMs: 5000, clusterSecret: secret });
  try {
    expect(await refused(stranger.info())).toBe("refused");
    expect(await refused(stranger.getSmall("small"))).toBe("refused");
    expect(await refused(stranger.statBlob("small"))).toBe("refused");
    expect(await refused(stranger.deleteBlob("small"))).toBe("refused");
    expect(await refused(stranger.deleteBlob("large"))).toBe("refused");
    expect(await refused(stranger.putSmall("planted", {}, small.data, small.sha256))).toBe("refused");
    expect(await refused(stranger.readBlob("large"))).toBe("refused");
    const up = stranger.writeBlob("planted-large", {});
    expect(await refused(up.write(large.data).then(() => up.finish(large.data.length, large.sha256)))).toBe("refused");
  } finally {
    stranger.close();
  }
  // The member still finds both blobs, and nothing planted.
  expect((await member.statBlob("small"))?.size).toBe(1000);
  expect((await member.statBlob("large"))?.size).toBe(large.data.length);
  expect(await member.statBlob("planted")).toBeNull();
  expect(await member.statBlob("planted-large")).toBeNull();
});

test("secrets compare by value whatever their lengths", () => {
  expect(sameSecret(SECRET, SECRET)).toBe(true);
  expect(sameSecret(SECRET, SECRET.slice(0, -1))).toBe(false);
  expect(sameSecret(SECRET, "")).toBe(false);
});
