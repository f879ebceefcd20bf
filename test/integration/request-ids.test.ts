import * as grpc from "@grpc/grpc-js";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { signedCalls } from "../../services/coordinator/api/testing/grpc-clients";
import { ObjectServiceClient, type PutObjectRequest } from "../../services/rpc/gen/minis3/v1/object";
import { keyQuery, signedFetch } from "../support/http";
import { responseHeaders, s3Client } from "../support/s3";
import { waitFor } from "../support/wait";

// Request ids (issue 15, item 3): a client's x-request-id comes back from every door (facade,
// S3, gRPC), follows the request onto the storage nodes' log lines of its ops, and into the
// lifecycle work it causes (a queued job, and the due-row poller's trash moves and purges of the
// versions it deleted or overwrote); an id that is not sane is replaced, never echoed.

const STORAGE = ["storage-1", "storage-2", "storage-3"];
const TRASH_NODE = "delete-1";
const FRESH_ID = /^[0-9A-F]{16}$/;

let cluster: TestCluster;
let s3: S3Client;

beforeAll(async () => {
  cluster = await startCluster({
    // A short hot TTL so a test can read a cold object (its promotion is a queued job), a short trash
    // TTL so one sees a purge; no scrubber, whose node ops would crowd the storage nodes' kept lines.
    env: { MINIS3_HOT_TTL: "2s", MINIS3_TRASH_TTL: "4s", MINIS3_SCRUB_RATE: "0" },
    // The nodes' per-op lines and the lifecycle's line per move are debug level (the harness's default is warn).
    processEnv: Object.fromEntries([...STORAGE, TRASH_NODE, "coordinator"].map((name) => [name, { MINIS3_LOG_LEVEL: "debug" }])),
  });
  s3 = s3Client(cluster);
}, 90_000);
afterAll(async () => {
  s3?.destroy();
  await cluster?.stop();
}, 30_000);

/** The JSON log lines of `processes` that carry `requestId`. */
function linesOf(processes: string[], requestId: string): Record<string, unknown>[] {
  return processes
    .flatMap((name) => cluster.logs(name, 200))
    .map((line) => line.slice(line.indexOf("{")))
    .filter((line) => line.includes(requestId))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.requestId === requestId);
}

/** Waits until `nodes` logged `count` ops (R = 2 copies of a put: two) under the id (of `blob`, if named). */
const nodeOps = (nodes: string[], requestId: string, op: string, count: number, blob?: string) =>
  waitFor(
    `${count} lines of ${op}${blob ? ` ${blob}` : ""} on ${nodes.join(", ")} with requestId ${requestId}`,
    async () => {
      const ops = linesOf(nodes, requestId).filter((l) => l.op === op && l.msg === "blob op done" && (!blob || l.blob === blob));
      return ops.length >= count ? ops : undefined;
    },
    20_000,
  );
const storageOps = (requestId: string, op: string, count: number) => nodeOps(STORAGE, requestId, op, count);

/** Waits for the coordinator's line `msg` about `version` under the id. */
const coordinatorLine = (requestId: string, msg: string, version: string) =>
  waitFor(
    `the coordinator's "${msg}" line of ${version} with requestId ${requestId}`,
    async () => linesOf(["coordinator"], requestId).some((l) => l.msg === msg && l.version === version),
    30_000,
  );

async function upload(key: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await signedFetch(`${cluster.httpUrl}/upload?${keyQuery(key)}`, { method: "POST", body, headers });
  expect(res.status).toBe(201);
  return ((await res.json()) as { versionId: string }).versionId;
}

test("facade: a sane x-request-id comes back and is on the storage nodes' lines of the upload", async () => {
  const id = "trace-facade-0001";
  const res = await signedFetch(`${cluster.httpUrl}/upload?${keyQuery("trace/facade.txt")}`, {
    method: "POST",
    body: "traced",
    headers: { "x-request-id": id },
  });
  expect(res.status).toBe(201);
  expect(res.headers.get("x-request-id")).toBe(id);
  await res.arrayBuffer();
  const ops = await storageOps(id, "put", 2);
  expect(new Set(ops.map((o) => o.blob)).size).toBe(1);
});

test("facade: no id, or one that is not sane, gets a fresh one; a bad one is never echoed", async () => {
  const bad = ["has spaces in it", "x".repeat(129), "semi;colon", 'quote"d'];
  for (const sent of [undefined, ...bad]) {
    const res = await signedFetch(`${cluster.httpUrl}/stat?${keyQuery("trace/facade.txt")}`, {
      headers: sent === undefined ? {} : { "x-request-id": sent },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(res.headers.get("x-request-id")).toMatch(FRESH_ID);
  }
  // even a refused call carries one
  const refused = await fetch(`${cluster.httpUrl}/stat?${keyQuery("trace/facade.txt")}`, { headers: { "x-request-id": "trace-refused" } });
  expect(refused.status).toBe(401);
  expect(refused.headers.get("x-request-id")).toBe("trace-refused");
  await refused.arrayBuffer();
});

test("S3: the client's x-request-id is the answer's x-amz-request-id, and on the storage nodes", async () => {
  const id = "trace-s3-0001";
  const sendingId = `send-request-id-${Math.random()}`;
  s3.middlewareStack.add(
    (next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers["x-request-id"] = id;
      return next(args);
    },
    { step: "build", name: sendingId },
  );
  try {
    const { headers } = await responseHeaders(s3, () =>
      s3.send(new PutObjectCommand({ Bucket: "default", Key: "trace/s3.txt", Body: "traced over s3" })),
    );
    expect(headers["x-amz-request-id"]).toBe(id);
    expect(headers["x-request-id"]).toBe(id);
  } finally {
    s3.middlewareStack.remove(sendingId);
  }
  await storageOps(id, "put", 2);
  // without one, S3's own form
  const { headers } = await responseHeaders(s3, () =>
    s3.send(new PutObjectCommand({ Bucket: "default", Key: "trace/s3-2.txt", Body: "untraced" })),
  );
  expect(headers["x-amz-request-id"]).toMatch(FRESH_ID);
});

test("gRPC: x-request-id metadata comes back in the response metadata, and is on the storage nodes", async () => {
  const id = "trace-grpc-0001";
  const client = new ObjectServiceClient(cluster.grpcAddress, grpc.credentials.createInsecure(), signedCalls(cluster.grpcAddress));
  try {
    const metadata = new grpc.Metadata();
    metadata.set("x-request-id", id);
    let answered: grpc.Metadata | undefined;
    await new Promise<void>((resolve, reject) => {
      const call = client.putObject(metadata, (err) => (err ? reject(err) : resolve()));
      call.on("metadata", (m: grpc.Metadata) => (answered = m));
      const header: PutObjectRequest = {
        part: { $case: "header", value: { bucket: "", key: "trace/grpc.txt", contentType: "", metadata: {} } },
      };
      call.write(header);
      call.write({ part: { $case: "chunk", value: Buffer.from("traced over grpc") } });
      call.end();
    });
    expect(answered?.get("x-request-id")).toEqual([id]);
    await storageOps(id, "put", 2);

    // A failed call has it too; a bad id is replaced.
    const failed = new grpc.Metadata();
    failed.set("x-request-id", "bad id!");
    const seen = await new Promise<grpc.Metadata>((resolve) => {
      const call = client.headObject({ bucket: "", key: "trace/none", versionId: "" }, failed, () => undefined);
      call.on("metadata", resolve);
    });
    expect(seen.get("x-request-id")).toEqual([expect.stringMatching(FRESH_ID)]);
  } finally {
    client.close();
  }
});

test("a lifecycle job a request causes carries its id: a cold read's promotion", async () => {
  const put = await signedFetch(`${cluster.httpUrl}/upload?${keyQuery("trace/cold.txt")}`, { method: "POST", body: "cold soon" });
  expect(put.status).toBe(201);
  await put.arrayBuffer();
  await waitFor(
    "trace/cold.txt demoted",
    async () => {
      const res = await signedFetch(`${cluster.httpUrl}/stat?${keyQuery("trace/cold.txt")}`);
      return ((await res.json()) as { tier: string }).tier === "cold";
    },
    30_000,
    250,
  );
  const id = "trace-promote-0001";
  const read = await signedFetch(`${cluster.httpUrl}/retrieve?${keyQuery("trace/cold.txt")}`, { headers: { "x-request-id": id } });
  expect(await read.text()).toBe("cold soon");
  expect(read.headers.get("x-request-id")).toBe(id);
  // The promotion is a BullMQ job run by the coordinator's worker: its line names the read's id,
  // and so do the storage nodes' lines of the copies it wrote.
  await waitFor(
    "the promotion's log line with the read's id",
    async () => linesOf(["coordinator"], id).some((l) => l.msg === "promoted to hot"),
    30_000,
  );
  await storageOps(id, "put", 1);
});

test("a delete's trash move and purge, which the due-row poller runs, carry the delete's id", async () => {
  const version = await upload("trace/deleted.txt", "deleted soon");
  const id = "trace-delete-0001";
  const del = await signedFetch(`${cluster.httpUrl}/delete?${keyQuery("trace/deleted.txt")}`, {
    method: "DELETE",
    headers: { "x-request-id": id },
  });
  expect(del.status).toBe(200);
  expect(del.headers.get("x-request-id")).toBe(id);
  await del.arrayBuffer();
  // The move: the coordinator's line, the copy on the delete node, the two hot copies deleted.
  await coordinatorLine(id, "moved to the trash", version);
  await nodeOps([TRASH_NODE], id, "put", 1, version);
  await nodeOps(STORAGE, id, "delete", 2, version);
  // The purge, once the trash TTL is over: the row kept the id.
  await coordinatorLine(id, "purged", version);
  await nodeOps([TRASH_NODE], id, "delete", 1, version);
});

test("an overwrite's id is on the trash move of the version it replaced", async () => {
  const first = await upload("trace/overwritten.txt", "first");
  const id = "trace-overwrite-0001";
  const second = await upload("trace/overwritten.txt", "second", { "x-request-id": id });
  expect(second).not.toBe(first);
  await coordinatorLine(id, "moved to the trash", first);
  await nodeOps([TRASH_NODE], id, "put", 1, first);
});
