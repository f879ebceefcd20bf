import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { TestObjectClient } from "../../services/coordinator/api/testing/grpc-clients";
import { getJson, keyQuery, remove, retrieve, signedFetch, upload } from "../support/http";
import { responseHeaders, s3Client } from "../support/s3";
import { waitFor } from "../support/wait";

// Each object's schedule (issue 15, item 4): /stat, gRPC HeadObject and S3 HEAD show the version's
// next lifecycle move and when it is due, all three from the same catalogue row.

const HOT_TTL_MS = 10 * 60_000;
const TRASH_TTL_MS = 60 * 60_000;

interface Next {
  transition: string;
  due: string;
}
interface StatWithNext {
  versionId: string;
  lastAccessedAt: string;
  next: Next | null;
}

let cluster: TestCluster;
let s3: S3Client;
let grpcClient: TestObjectClient;

beforeAll(async () => {
  cluster = await startCluster({ env: { MINIS3_HOT_TTL: "10m", MINIS3_TRASH_TTL: "1h" } });
  s3 = s3Client(cluster);
  grpcClient = TestObjectClient.create("generated", cluster.grpcAddress);
}, 90_000);
afterAll(async () => {
  grpcClient?.close();
  s3?.destroy();
  await cluster?.stop();
}, 30_000);

const statOf = (key: string, versionId?: string) =>
  getJson<StatWithNext>(`${cluster.httpUrl}/stat?${keyQuery(key)}${versionId ? `&versionId=${versionId}` : ""}`);

/** The three doors' view of one version's next move: /stat JSON, gRPC HeadObject, S3 HEAD headers. */
async function scheduleEverywhere(key: string, versionId?: string) {
  const stat = await statOf(key, versionId);
  const head = await grpcClient.headObject("default", key, versionId ?? "");
  const { headers } = await responseHeaders(s3, () =>
    s3.send(new HeadObjectCommand({ Bucket: "default", Key: key, VersionId: versionId })),
  );
  return {
    stat: stat.next,
    grpc: head.next ? { transition: head.next.transition, due: new Date(Number(head.next.dueAtMs)).toISOString() } : null,
    s3:
      headers["x-minis3-next-transition"] === undefined
        ? null
        : { transition: headers["x-minis3-next-transition"], due: headers["x-minis3-next-transition-due"] },
    lastAccessedAt: Date.parse(stat.lastAccessedAt),
  };
}

test("a live hot version is due for demotion at its last access + MINIS3_HOT_TTL, on every door", async () => {
  const before = Date.now();
  const put = await upload(cluster.httpUrl, "sched/hot.txt", "demote me later");
  const after = Date.now();
  expect(put.status).toBe(201);

  const seen = await scheduleEverywhere("sched/hot.txt");
  expect(seen.stat).toEqual({ transition: "demote", due: expect.any(String) });
  const due = Date.parse(seen.stat!.due);
  // The upload is its first access: due one TTL after it (the coordinator runs on this machine's clock).
  expect(due).toBeGreaterThanOrEqual(before + HOT_TTL_MS - 1000);
  expect(due).toBeLessThanOrEqual(after + HOT_TTL_MS + 1000);
  expect(due).toBe(seen.lastAccessedAt + HOT_TTL_MS);
  expect(seen.grpc).toEqual(seen.stat);
  expect(seen.s3).toEqual(seen.stat);
});

test("a read puts the demotion off: due moves to the read + MINIS3_HOT_TTL", async () => {
  await upload(cluster.httpUrl, "sched/read.txt", "read me");
  const first = Date.parse((await statOf("sched/read.txt")).next!.due);
  await new Promise((r) => setTimeout(r, 50));
  const readAt = Date.now();
  expect((await retrieve(cluster.httpUrl, "sched/read.txt")).status).toBe(200);
  const later = await waitFor(
    "the read's access time in the schedule",
    async () => {
      const due = Date.parse((await statOf("sched/read.txt")).next!.due);
      return due > first ? due : undefined;
    },
    10_000,
  );
  expect(later).toBeGreaterThanOrEqual(readAt + HOT_TTL_MS - 1000);
});

test("a deleted version is due for purge at its delete + MINIS3_TRASH_TTL, on every door", async () => {
  await upload(cluster.httpUrl, "sched/gone.txt", "purge me later");
  const before = Date.now();
  const deleted = await remove(cluster.httpUrl, "sched/gone.txt");
  const after = Date.now();
  expect(deleted.status).toBe(200);
  const { versionId, purgeAt } = JSON.parse(deleted.body.toString()) as { versionId: string; purgeAt: string };

  const seen = await scheduleEverywhere("sched/gone.txt", versionId);
  expect(seen.stat).toEqual({ transition: "purge", due: purgeAt });
  // Purge times are on MariaDB's clock, which runs on this machine too.
  const due = Date.parse(purgeAt);
  expect(due).toBeGreaterThanOrEqual(before + TRASH_TTL_MS - 5000);
  expect(due).toBeLessThanOrEqual(after + TRASH_TTL_MS + 5000);
  expect(seen.grpc).toEqual(seen.stat);
  expect(seen.s3).toEqual(seen.stat);

  // The key itself is gone: /stat without a version is 404, as before.
  const res = await signedFetch(`${cluster.httpUrl}/stat?${keyQuery("sched/gone.txt")}`);
  expect(res.status).toBe(404);
  await res.arrayBuffer();
});
