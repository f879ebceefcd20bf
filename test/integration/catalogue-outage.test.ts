import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { TestObjectClient } from "../../services/coordinator/api/testing/grpc-clients";
import { getJson, keyQuery, remove, retrieve, stat, upload, signedFetch } from "../support/http";
import { PrivateMariaDb } from "../support/private-mariadb";
import { waitFor } from "../support/wait";

// While MariaDB is away, reads, deletes and listings answer "try again later" (503 / UNAVAILABLE),
// not 500 / INTERNAL; once it is back, the same requests work again (issue 12 item 9, review finding 19).

let db: PrivateMariaDb;
let cluster: TestCluster;
let client: TestObjectClient;
const body = randomBytes(3000);

beforeAll(async () => {
  db = await PrivateMariaDb.create();
  // No read cache: every read goes to MariaDB (a cached row may rightly still be served meanwhile).
  cluster = await startCluster({ storageNodes: 2, mysqlUrl: db.url, env: { MINIS3_READ_CACHE: "0" } });
  client = TestObjectClient.create("generated", cluster.grpcAddress);
  for (const key of ["outage/a", "outage/b"]) expect((await upload(cluster.httpUrl, key, body)).status).toBe(201);
}, 120_000);

afterAll(async () => {
  client?.close();
  await db?.start().catch(() => undefined); // the cluster's stop drops its database
  await cluster?.stop().catch(() => undefined);
  await db?.destroy();
}, 60_000);

async function grpcCode(p: Promise<unknown>): Promise<grpc.status | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return (e as grpc.ServiceError).code;
  }
}

test("GET, HEAD, stat, DELETE and LIST answer 503 while MariaDB is stopped, gRPC UNAVAILABLE; all work again after", async () => {
  await db.stop();

  const get = await retrieve(cluster.httpUrl, "outage/a");
  expect([get.status, JSON.parse(get.body.toString()).error]).toEqual([503, "Unavailable"]);
  const head = await signedFetch(`${cluster.httpUrl}/retrieve?${keyQuery("outage/a")}`, { method: "HEAD" });
  expect(head.status).toBe(503);
  expect((await stat(cluster.httpUrl, "outage/a")).status).toBe(503);
  expect((await remove(cluster.httpUrl, "outage/b")).status).toBe(503);
  const list = await signedFetch(`${cluster.httpUrl}/objects?prefix=outage/`);
  expect(list.status).toBe(503);
  const trash = await signedFetch(`${cluster.httpUrl}/trash?prefix=outage/`);
  expect(trash.status).toBe(503);
  expect((await signedFetch(`${cluster.httpUrl}/undelete?${keyQuery("outage/b")}`, { method: "POST" })).status).toBe(503);

  expect(await grpcCode(client.head("default", "outage/a"))).toBe(grpc.status.UNAVAILABLE);
  expect(await grpcCode(client.get({ key: "outage/a" }))).toBe(grpc.status.UNAVAILABLE);
  expect(await grpcCode(client.delete("default", "outage/b"))).toBe(grpc.status.UNAVAILABLE);

  await db.start();
  await waitFor(
    "reads to work again",
    async () => {
      const r = await retrieve(cluster.httpUrl, "outage/a");
      return r.status === 200 && r.body.equals(body);
    },
    30_000,
  );
  expect(await grpcCode(client.head("default", "outage/a"))).toBe("ok");
  const listed = await getJson<{ objects: { key: string }[] }>(`${cluster.httpUrl}/objects?prefix=outage/`);
  expect(listed.objects.map((o) => o.key)).toEqual(["outage/a", "outage/b"]);
  // A pooled connection the restart broke answers its next statement with an error (a 503 that
  // changed nothing: seen once in CI, 2026-12-02 22:10), so the delete may take a retry or two.
  // (A 404 after such a 503 says an earlier try committed; the first try of all must not get one.)
  const statuses: number[] = [];
  await waitFor(
    "deletes to work again",
    async () => {
      statuses.push((await remove(cluster.httpUrl, "outage/b")).status);
      return statuses.at(-1) === 200 || (statuses.length > 1 && statuses.at(-1) === 404) || undefined;
    },
    30_000,
  );
  expect(statuses.slice(0, -1).every((s) => s === 503)).toBe(true);
  expect((await stat(cluster.httpUrl, "outage/b")).status).toBe(404);
}, 90_000);
