import { checkLoopbackUrl, parseBenchArgs, PHASES, UsageError } from "../../bench/args";
import { MiniS3Client } from "../../bench/client";
import { runLarge } from "../../bench/large";
import { runMixed, seedKeySet } from "../../bench/mixed";
import { startMemoryCoordinator } from "../support/stubs/memory-coordinator";

// The bench's own logic against an in-memory coordinator: it verifies what it reads back, and
// catches a store that returns wrong bytes.

// A count of operations, not a time: at load average ~20, 600 ms held only 20 retrieves.
const mixed = { concurrency: 8, size: 4096, durationMs: 60_000, maxOps: 400, mix: { upload: 40, retrieve: 50, delete: 10 } };

type Stub = Awaited<ReturnType<typeof startMemoryCoordinator>>;

/** A fresh in-memory coordinator and a bench client with `connections` to it, for one test. */
async function withStub(
  opts: Parameters<typeof startMemoryCoordinator>[0],
  connections: number,
  test: (client: MiniS3Client, stub: Stub) => Promise<void>,
): Promise<void> {
  const stub = await startMemoryCoordinator(opts);
  const client = new MiniS3Client(stub.url, connections);
  try {
    await test(client, stub);
  } finally {
    await client.close();
    await stub.close();
  }
}

describe("bench", () => {
  it("runs the mixed workload with every retrieve verified", async () => {
    await withStub({}, 8, async (client, stub) => {
      const r = await runMixed(client, { ...mixed, keyPrefix: "t" });
      expect(r.preloaded).toBe(128);
      expect(r.operations.retrieve.succeeded).toBeGreaterThan(20);
      expect(r.operations.upload.succeeded).toBeGreaterThan(10);
      expect(r.operations.delete.succeeded).toBeGreaterThan(0);
      expect(r.total.successRate).toBe(1);
      expect(r.verifyFailures).toBe(0);
      expect(r.operations.retrieve.p50Ms).not.toBeNull();
      expect(new Set(r.liveKeys)).toEqual(new Set(stub.objects.keys()));
    });
  });

  it("counts wrong bytes as failures", async () => {
    await withStub({ corruptEvery: 5 }, 8, async (client) => {
      const r = await runMixed(client, { ...mixed, keyPrefix: "t" });
      expect(r.verifyFailures).toBeGreaterThan(0);
      expect(r.operations.retrieve.errors["checksum mismatch"]).toBe(r.verifyFailures);
      expect(r.total.successRate).toBeLessThan(1);
    });
  });

  it("runs the overwrite mix on a fixed key set: most uploads replace a live object, every read verified", async () => {
    await withStub({}, 8, async (client, stub) => {
      const keySet = await seedKeySet(client, "o", 64, 4096, 8);
      expect(keySet.live.size).toBe(64);
      expect(stub.objects.size).toBe(64);
      const overwrite = { ...mixed, mix: { upload: 45, retrieve: 45, delete: 10 }, keyPrefix: "unused", keySet };
      const warm = await runMixed(client, { ...overwrite, maxOps: 100 });
      const r = await runMixed(client, overwrite); // the set's state carries over from the warm-up
      expect(r).toMatchObject({ keys: "fixed", keySetSize: 64, verifyFailures: 0 });
      expect(r.preloaded).toBe(warm.liveKeys.length);
      expect(r.total.successRate).toBe(1);
      expect(r.operations.retrieve.succeeded).toBeGreaterThan(20);
      expect(r.operations.delete.succeeded).toBeGreaterThan(0);
      // Deletes take keys out and uploads bring them back: most uploads find the key live.
      expect(r.overwrites).toBeGreaterThan(r.operations.upload.succeeded / 2);
      expect(r.total.p99Ms).not.toBeNull();
      expect([...stub.objects.keys()].every((k) => /^o\/\d+$/.test(k) && Number(k.slice(2)) < 64)).toBe(true);
      expect(new Set(r.liveKeys)).toEqual(new Set(stub.objects.keys()));
    });
  });

  it("says why its key set could not be seeded", async () => {
    await withStub({ refuseUploads: true }, 4, async (client) => {
      const keySet = await seedKeySet(client, "o", 16, 4096, 4);
      expect(keySet.live.size).toBe(0);
      expect(keySet.dropped).toBe(16);
      expect(keySet.firstFailure).toBe("http 503");
    });
  });

  it("catches a store that acknowledges overwrites and keeps serving the replaced version", async () => {
    await withStub({ keepFirstVersion: true }, 8, async (client) => {
      const keySet = await seedKeySet(client, "o", 64, 4096, 8);
      const r = await runMixed(client, { ...mixed, mix: { upload: 45, retrieve: 45, delete: 0 }, keyPrefix: "unused", keySet });
      expect(r.overwrites).toBeGreaterThan(0);
      expect(r.verifyFailures).toBeGreaterThan(0);
      expect(r.operations.retrieve.errors["checksum mismatch"]).toBe(r.verifyFailures);
    });
  });

  it("moves several large objects at once and reports their MB/s together", async () => {
    await withStub({}, 2, async (client, stub) => {
      const bytes = 2 * 1024 * 1024 + 3;
      const r = await runLarge(client, "big", bytes, () => [{ name: "self", pid: process.pid }], 2, 2);
      expect(r).toMatchObject({ inFlight: 2, passes: 2, deleted: true });
      expect(r.upload.ok).toBe(true);
      expect(r.retrieve).toMatchObject({ ok: true, verified: true });
      // Two objects' bytes in the median pass's seconds (both rounded, so within a few per cent).
      const objectsMoved = (r.upload.mbPerSec * r.upload.seconds) / (bytes / 1e6);
      expect(objectsMoved).toBeGreaterThan(1.8);
      expect(objectsMoved).toBeLessThan(2.2);
      expect(stub.objects.size).toBe(0);
    });
  });

  it("streams large objects up and back, verified, reports the median pass, and deletes them", async () => {
    await withStub({}, 1, async (client, stub) => {
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
    });
  });

  it("reports a large object that comes back different", async () => {
    await withStub({ corruptEvery: 1 }, 1, async (client) => {
      const r = await runLarge(client, "big", 2 * 1024 * 1024, () => []);
      expect(r.retrieve).toMatchObject({ ok: false, verified: false, reason: "checksum mismatch" });
    });
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
      largePasses: 5,
      hugeBytes: 2 ** 30,
      url: undefined,
    });
    expect(() => parseBenchArgs(["--duration", "2h"], {})).toThrow(UsageError);
    expect(() => parseBenchArgs(["--phases", "mixed,soak"], {})).toThrow(/unknown phase/);
    expect(() => parseBenchArgs(["--mix", "0:1:1"], {})).toThrow(UsageError);
  });

  it("runs every workload by default, and takes the overwrite, large-parallel and compare settings", () => {
    const d = parseBenchArgs([], {});
    expect(d).toMatchObject({ overwriteMix: { upload: 45, retrieve: 45, delete: 10 }, keySet: 1000, largeInFlight: 2, compare: false });
    if (d === "help") throw new Error("help");
    expect(d.phases).toEqual([...PHASES]);
    expect(parseBenchArgs(["--compare", "--key-set", "50", "--large-in-flight", "3"], {})).toMatchObject({
      compare: true,
      keySet: 50,
      largeInFlight: 3,
    });
    expect(parseBenchArgs([], { BENCH_COMPARE: "1" })).toMatchObject({ compare: true });
    expect(() => parseBenchArgs(["--phases", "overwrite", "--key-set", "16", "--concurrency", "32"], {})).toThrow(/--key-set/);
    expect(() => parseBenchArgs(["--overwrite-mix", "0:1:0"], {})).toThrow(/--overwrite-mix/);
  });
});
