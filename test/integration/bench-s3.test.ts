import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { parseBenchArgs } from "../../bench/args";
import { runMixed } from "../../bench/mixed";
import { S3BenchClient } from "../../bench/s3-client";

// The bench's S3 mode against a real cluster: every request SigV4-signed by an independent signer
// (aws4), every read verified; a wrong secret is refused, so the mode measures signed traffic.

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster();
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
}, 30_000);

describe("bench, S3 mode", () => {
  it("runs the mixed workload through the S3 port with every retrieve verified", async () => {
    const client = new S3BenchClient(cluster.s3Url, "bench", { accessKey: cluster.accessKey, secretKey: cluster.secretKey }, 8);
    try {
      expect(await client.createBucket()).toMatchObject({ ok: true });
      expect(await client.createBucket()).toMatchObject({ ok: true }); // already ours: fine
      const r = await runMixed(client, {
        concurrency: 8,
        size: 4096,
        durationMs: 60_000,
        maxOps: 300,
        mix: { upload: 40, retrieve: 50, delete: 10 },
        keyPrefix: "k",
      });
      expect(r.operations.upload.errors).toEqual({});
      expect(r.total.successRate).toBe(1);
      expect(r.verifyFailures).toBe(0);
      expect(r.operations.retrieve.succeeded).toBeGreaterThan(20);
      expect(r.operations.delete.succeeded).toBeGreaterThan(0);
      // What the bench says is stored is what S3 serves.
      const key = r.liveKeys[0];
      expect((await client.retrieve(key)).ok).toBe(true);
    } finally {
      await client.close();
    }
  }, 120_000);

  it("is refused with a wrong secret, so its figures are of signed requests", async () => {
    const client = new S3BenchClient(cluster.s3Url, "bench", { accessKey: cluster.accessKey, secretKey: "wrong".repeat(8) }, 1);
    try {
      expect(await client.upload("k-refused", Buffer.from("x"), 1)).toMatchObject({ ok: false, status: 403 });
    } finally {
      await client.close();
    }
  });

  it("takes --s3-url and the mixed-s3 phase", () => {
    const a = parseBenchArgs(["--phases", "mixed-s3", "--s3-url", "http://127.0.0.1:9100"], {});
    expect(a).toMatchObject({ phases: ["mixed-s3"], s3Url: "http://127.0.0.1:9100" });
  });
});
