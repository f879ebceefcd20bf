import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { getJson, remove, retrieve, upload } from "../support/http";

// Redis is the lifecycle's fast path, not the data path: with no Redis at all the cluster still
// starts, stores, serves and deletes objects, and /status says what it could not ask.

describe("a cluster whose Redis is unreachable", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    // Port 1 on loopback: connections are refused at once, for the whole test.
    cluster = await startCluster({ storageNodes: 3, env: { MINIS3_REDIS_URL: "redis://127.0.0.1:1" } });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("still uploads, retrieves, overwrites and deletes", async () => {
    const first = await upload(cluster.httpUrl, "no-redis/a", "first");
    expect(first.status).toBe(201);
    expect((await upload(cluster.httpUrl, "no-redis/a", "second")).status).toBe(201);
    const got = await retrieve(cluster.httpUrl, "no-redis/a");
    expect(got.status).toBe(200);
    expect(got.body.toString()).toBe("second");
    expect((await remove(cluster.httpUrl, "no-redis/a")).status).toBe(200);
    expect((await retrieve(cluster.httpUrl, "no-redis/a")).status).toBe(404);
  });

  it("answers /status, saying the queues could not be read", async () => {
    const status = await getJson<{ queuesError?: string; queues: unknown[]; tiers: { tier: string; objects: number }[] }>(
      `${cluster.httpUrl}/status`,
    );
    expect(status.queuesError).toMatch(/Redis/);
    expect(status.queues).toEqual([]);
    // the overwritten and the deleted version wait in the trash state for the lifecycle
    expect(status.tiers.find((t) => t.tier === "trash")?.objects).toBe(2);
  });
});
