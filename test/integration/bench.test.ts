import { checkLoopbackUrl, parseBenchArgs, UsageError } from "../../bench/args";
import { MiniS3Client } from "../../bench/client";
import { runLarge } from "../../bench/large";
import { runMixed } from "../../bench/mixed";
import { startMemoryCoordinator } from "../support/stubs/memory-coordinator";

// The bench's own logic against an in-memory coordinator: it verifies what it reads back, and
// catches a store that returns wrong bytes.

// A count of operations, not a time: at load average ~20, 600 ms held only 20 retrieves.
const mixed = { concurrency: 8, size: 4096, durationMs: 60_000, maxOps: 400, mix: { upload: 40, retrieve: 50, delete: 10 } };

describe("bench", () => {
  it("runs the mixed workload with every retrieve verified", async () => {
    const stub = await startMemoryCoordinator();
    const client = new MiniS3Client(stub.url, 8);
    try {
      const r = await runMixed(client, { ...mixed, keyPrefix: "t" });
      expect(r.preloaded).toBe(128);
      expect(r.operations.retrieve.succeeded).toBeGreaterThan(20);
      expect(r.operations.upload.succeeded).toBeGreaterThan(10);
      expect(r.operations.delete.succeeded).toBeGreaterThan(0);
      expect(r.total.successRate).toBe(1);
      expect(r.verifyFailures).toBe(0);
      expect(r.operations.retrieve.p50Ms).not.toBeNull();
      expect(new Set(r.liveKeys)).toEqual(new Set(stub.objects.keys()));
    } finally {
      await client.close();
      await stub.close();
    }
  });

  it("counts wrong bytes as failures", async () => {
    const stub = await startMemoryCoordinator({ corruptEvery: 5 });
    const client = new MiniS3Client(stub.url, 8);
    try {
      const r = await runMixed(client, { ...mixed, keyPrefix: "t" });
      expect(r.verifyFailures).toBeGreaterThan(0);
      expect(r.operations.retrieve.errors["checksum mismatch"]).toBe(r.verifyFailures);
      expect(r.total.successRate).toBeLessThan(1);
    } finally {
      await client.close();
      await stub.close();
    }
  });

  it("streams large objects up and back, verified, reports the median pass, and deletes them", async () => {
    const stub = await startMemoryCoordinator();
    const client = new MiniS3Client(stub.url, 1);
    try {
      const r = await runLarge(client, "big", 3 * 1024 * 1024 + 5, () => [{ name: "self", pid: process.pid }], 3);
      expect(r.upload.ok).toBe(true);
      expect(r.retrieve).toMatchObject({ ok: true, verified: true });
      expect(r.passes).toBe(3);
      expect(r.uploadSeconds).toHaveLength(3);
      expect(r.retrieveSeconds).toHaveLength(3);
      const middle = (xs: number[]) => [...xs].sort((x, y) => x - y)[1];
      expect(r.upload.seconds).toBe(middle(r.uploadSeconds));
      expect(r.retrieve.seconds).toBe(middle(r.retrieveSeconds));
      expect(r.deleted).toBe(true);
      expect(stub.objects.size).toBe(0);
      expect(r.maxRssBytes.self).toBeGreaterThan(0);
    } finally {
      await client.close();
      await stub.close();
    }
  });

  it("reports a large object that comes back different", async () => {
    const stub = await startMemoryCoordinator({ corruptEvery: 1 });
    const client = new MiniS3Client(stub.url, 1);
    try {
      const r = await runLarge(client, "big", 2 * 1024 * 1024, () => []);
      expect(r.retrieve).toMatchObject({ ok: false, verified: false, reason: "checksum mismatch" });
    } finally {
      await client.close();
      await stub.close();
    }
  });

  it("only ever targets this machine", () => {
    expect(checkLoopbackUrl("http://127.0.0.1:8080/x")).toBe("http://127.0.0.1:8080");
    expect(checkLoopbackUrl("http://localhost:9")).toBe("http://localhost:9");
    expect(() => checkLoopbackUrl("http://10.0.0.5:8080")).toThrow(UsageError);
    expect(() => checkLoopbackUrl("http://example.com")).toThrow(UsageError);
  });

  it("parses flags, with env fallbacks and bounds", () => {
    const a = parseBenchArgs(["--concurrency", "64", "--mix", "1:1:0", "--phases", "mixed"], { BENCH_DURATION: "5s", BENCH_SIZE: "1KiB" });
    expect(a).toMatchObject({
      concurrency: 64,
      durationMs: 5000,
      size: 1024,
      mix: { upload: 1, retrieve: 1, delete: 0 },
      phases: ["mixed"],
      largeBytes: 64 * 2 ** 20,
      largePasses: 3,
      hugeBytes: 2 ** 30,
      url: undefined,
    });
    expect(() => parseBenchArgs(["--duration", "2h"], {})).toThrow(UsageError);
    expect(() => parseBenchArgs(["--phases", "mixed,soak"], {})).toThrow(/unknown phase/);
    expect(() => parseBenchArgs(["--mix", "0:1:1"], {})).toThrow(UsageError);
  });
});
