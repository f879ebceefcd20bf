import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { parseBenchArgs } from "../../bench/args";
import type { BenchResults, LargePhaseResult, LargeRatios, MixedPhaseResult, MixedRatios } from "../../bench/result-types";
import { compiled } from "../support/compiled";
import { runMixed } from "../../bench/mixed";
import { S3BenchClient } from "../../bench/s3-client";

// The bench's S3 mode against a real cluster: every request SigV4-signed by an independent signer
// (aws4), every read verified; a wrong secret is refused, so the mode measures signed traffic. Then
// `npm run bench`'s own entry point with --compare, at a tiny size: the overwrite and large-object
// rows through both front doors and through s3rver, with the per-process CPU and the ratios.

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

  it("uploads as the SDKs send a stream (aws-chunked, a CRC32 trailer), and the bytes read back", async () => {
    const keys = { accessKey: cluster.accessKey, secretKey: cluster.secretKey };
    const client = new S3BenchClient(cluster.s3Url, "bench", keys, 2, 60_000, false, "aws-chunked");
    try {
      expect(await client.createBucket()).toMatchObject({ ok: true });
      // Sizes around the 64 KiB framing: less than a chunk, several and a part, a whole number of chunks.
      for (const size of [1000, 3 * 65536 + 17, 4 * 65536]) {
        const pieces = [randomBytes(size - Math.floor(size / 3)), randomBytes(Math.floor(size / 3))];
        const body = Buffer.concat(pieces);
        expect(await client.upload(`sdk-${size}`, pieces, size)).toMatchObject({ ok: true });
        const sha256 = createHash("sha256").update(body).digest("hex");
        expect(await client.retrieve(`sdk-${size}`, { sha256, size })).toMatchObject({ ok: true });
      }
    } finally {
      await client.close();
    }
  }, 60_000);

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

  it("runs the overwrite and parallel large workloads on MiniS3 and s3rver, with server CPU per op and the ratios", async () => {
    const out = await mkdtemp(join(tmpdir(), "minis3-bench-out-"));
    try {
      // The cluster's pair, by environment, as for a cluster the bench did not start.
      const env = { ...process.env, MINIS3_ACCESS_KEY: cluster.accessKey, MINIS3_SECRET_KEY: cluster.secretKey };
      // A count of operations, not a time, bounds each mixed run (the machine may be loaded).
      const args = [
        "--url",
        cluster.httpUrl,
        "--s3-url",
        cluster.s3Url,
        "--phases",
        "overwrite,overwrite-s3,large-parallel,large-s3,large-s3-sdk",
      ];
      args.push("--compare", "--duration", "60s", "--warmup", "0", "--max-ops", "150", "--concurrency", "8", "--key-set", "40");
      args.push("--large", "1MiB", "--large-passes", "1", "--out", out);
      await promisify(execFile)(process.execPath, [compiled("bench/main.js"), ...args], { env, maxBuffer: 16 << 20, timeout: 240_000 });
      const [file] = await readdir(out);
      const r = JSON.parse(await readFile(join(out, file), "utf8")) as BenchResults;
      expect(r.errors).toEqual([]);

      const mixedSane = (m: MixedPhaseResult | undefined, server: string) => {
        expect(m).toMatchObject({ keys: "fixed", keySetSize: 40, verifyFailures: 0, total: { successRate: 1 } });
        expect(m!.total.attempts).toBe(150);
        expect(m!.overwrites).toBeGreaterThan(0);
        expect(m!.total.p99Ms).toBeGreaterThan(0);
        expect(m!.serverCpuMicrosPerOp).toBeGreaterThan(0);
        expect(Object.keys(m!.cpuMicrosPerOpByProcess)).toContain(server);
      };
      mixedSane(r.overwrite, "coordinator");
      mixedSane(r.overwriteS3, "coordinator");
      mixedSane(r.compare?.overwrite, "s3rver");
      expect(r.compare?.peer).toBe("s3rver 3.7.1");

      const largeSane = (l: LargePhaseResult | undefined, inFlight: number) => {
        expect(l).toMatchObject({ inFlight, passes: 1, deleted: true, upload: { ok: true }, retrieve: { ok: true, verified: true } });
        expect(l!.upload.mbPerSec).toBeGreaterThan(0);
      };
      largeSane(r.largeParallel, 2);
      largeSane(r.largeS3, 1);
      largeSane(r.largeS3Sdk, 1); // uploaded aws-chunked, read back verified
      largeSane(r.compare?.largeParallel, 2);
      largeSane(r.compare?.large, 1);
      expect(r.compare?.largeParallel?.maxRssMiB.s3rver).toBeGreaterThan(0);

      // A ratio for every MiniS3 row, against the peer's row of the same workload.
      expect(Object.keys(r.compare!.ratios).sort()).toEqual(["large-parallel", "large-s3", "large-s3-sdk", "overwrite", "overwrite-s3"]);
      for (const phase of ["overwrite", "overwrite-s3"]) {
        const m = r.compare!.ratios[phase] as MixedRatios;
        expect(m.vs).toBe("s3rver 3.7.1 overwrite");
        for (const v of [m.opsPerSec, m.p99Ms, m.serverCpuMicrosPerOp]) expect(v).toBeGreaterThan(0);
      }
      const l = r.compare!.ratios["large-parallel"] as LargeRatios;
      expect(l.vs).toBe("s3rver 3.7.1 largeParallel");
      for (const v of [l.uploadMBps, l.retrieveMBps]) expect(v).toBeGreaterThan(0);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 300_000);
});
