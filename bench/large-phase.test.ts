import { createHash } from "node:crypto";
import type { ObjectClient, Outcome, RetrieveOutcome } from "./client";
import { LargeWarmups, largePhase, type BenchSystem } from "./phases";

// A large phase's warm-up passes run first, unmeasured: the figures are the measured passes' alone,
// every object either kind of pass stored is deleted, and a warm-up that fails is reported as failed.

/** An in-memory store that logs what it was asked, in order. */
class MemoryClient implements ObjectClient {
  readonly log: string[] = [];
  private readonly objects = new Map<string, Buffer>();
  constructor(private readonly failUploadsOf?: RegExp) {}

  async upload(key: string, body: Buffer | Iterable<Buffer> | AsyncIterable<Buffer>): Promise<Outcome> {
    this.log.push(`up ${key}`);
    if (this.failUploadsOf?.test(key)) return { ok: false, reason: "http 503", status: 503 };
    const parts: Buffer[] = [];
    for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
    this.objects.set(key, Buffer.concat(parts));
    return { ok: true, status: 201 };
  }

  async retrieve(key: string, expected?: { sha256: string; size: number }): Promise<RetrieveOutcome> {
    this.log.push(`down ${key}`);
    const body = this.objects.get(key);
    if (!body) return { ok: false, reason: "http 404", status: 404, bytes: 0 };
    const sha256 = createHash("sha256").update(body).digest("hex");
    const ok = !expected || (sha256 === expected.sha256 && body.length === expected.size);
    return { ok, status: 200, bytes: body.length, sha256, ...(ok ? {} : { reason: "checksum mismatch" }) };
  }

  async delete(key: string): Promise<Outcome> {
    this.log.push(`delete ${key}`);
    return { ok: this.objects.delete(key), status: 204 };
  }

  async close(): Promise<void> {}

  stored(): string[] {
    return [...this.objects.keys()];
  }
}

function system(client: MemoryClient): BenchSystem {
  return { server: () => [], services: () => [], drain: async () => void client.log.push("drain"), cleanUp: true };
}

const opts = { key: "bench/large", bytes: 64 * 1024, passes: 3, inFlight: 1 };

describe("largePhase warm-up", () => {
  it("runs the warm-up passes first and measures only the passes after them", async () => {
    const client = new MemoryClient();
    const r = await largePhase(client, system(client), { ...opts, warmupPasses: 2 });

    expect(r.passes).toBe(3);
    expect(r.uploadSeconds).toHaveLength(3);
    expect(r.warmup).toEqual({
      ok: true,
      uploadSeconds: [expect.any(Number), expect.any(Number)],
      retrieveSeconds: [expect.any(Number), expect.any(Number)],
    });
    const uploads = client.log.filter((l) => l.startsWith("up "));
    expect(uploads).toEqual([
      "up bench/large-warmup-1",
      "up bench/large-warmup-2",
      "up bench/large-1",
      "up bench/large-2",
      "up bench/large-3",
    ]);
    // The warm-up's objects are deleted, and their background work drained, before the measured passes.
    const firstMeasured = client.log.indexOf("up bench/large-1");
    expect(client.log.slice(0, firstMeasured)).toEqual(
      expect.arrayContaining(["delete bench/large-warmup-1", "delete bench/large-warmup-2"]),
    );
    expect(client.log[firstMeasured - 1]).toBe("drain");
    expect(client.stored()).toEqual([]);
    expect(r.deleted).toBe(true);
  });

  it("runs none with warmupPasses 0", async () => {
    const client = new MemoryClient();
    const r = await largePhase(client, system(client), { ...opts, warmupPasses: 0 });
    expect(r.warmup).toBeUndefined();
    expect(client.log.filter((l) => l.includes("warmup"))).toEqual([]);
    expect(r.passes).toBe(3);
  });

  it("reports a warm-up that failed, and still measures", async () => {
    const client = new MemoryClient(/warmup/);
    const r = await largePhase(client, system(client), { ...opts, warmupPasses: 2 });
    expect(r.warmup).toMatchObject({ ok: false, reason: "http 503" });
    expect(r.upload.ok).toBe(true);
    expect(r.passes).toBe(3);
  });
});

// A system's first large row runs cold for longer than a row's usual warm-up covers (LargeWarmups says what
// was measured): it gets the longer warm-up, each system its own, and the rows after it the usual.
describe("LargeWarmups", () => {
  it("gives each system's first large row the longer warm-up and its later rows the usual one", async () => {
    const warmups = new LargeWarmups(4, 2);
    const ours = new MemoryClient();
    const peer = new MemoryClient();
    const [oursSystem, peerSystem] = [system(ours), system(peer)];
    const row = async (client: MemoryClient, s: BenchSystem) =>
      (await largePhase(client, s, { ...opts, warmupPasses: warmups.passesFor(s) })).warmup?.uploadSeconds.length;

    expect(await row(ours, oursSystem)).toBe(4);
    expect(await row(ours, oursSystem)).toBe(2);
    expect(await row(peer, peerSystem)).toBe(4);
    expect(await row(peer, peerSystem)).toBe(2);
  });

  it("never gives a first row fewer passes than the usual warm-up", () => {
    const s = system(new MemoryClient());
    expect(new LargeWarmups(1, 3).passesFor(s)).toBe(3);
  });
});

// large-overwrite: a user re-uploading a big file. Every pass, the warm-up's included, replaces the
// object under one key; the drain of the replaced versions' trash moves is inside the measured CPU
// (it is the row's own work), and the key is deleted only after it.
describe("largePhase overwriting", () => {
  it("uploads every pass over the same key, drains before deleting it, and leaves nothing", async () => {
    const client = new MemoryClient();
    const r = await largePhase(client, system(client), { ...opts, warmupPasses: 2, overwrite: true });

    expect(client.log.filter((l) => l.startsWith("up "))).toEqual(Array(5).fill("up bench/large"));
    // Nothing deleted until the measured passes are done: each upload after the first replaced an object.
    const lastUpload = client.log.lastIndexOf("up bench/large");
    expect(client.log.slice(0, lastUpload).filter((l) => l.startsWith("delete"))).toEqual([]);
    expect(client.log.slice(lastUpload)).toEqual(["up bench/large", "down bench/large", "drain", "delete bench/large"]);
    expect(r.passes).toBe(3);
    expect(r.retrieve.verified).toBe(true);
    expect(r.deleted).toBe(true);
    expect(client.stored()).toEqual([]);
    expect(r).not.toHaveProperty("stored");
  });

  it("with several objects at once, one key each, every pass over the same ones", async () => {
    const client = new MemoryClient();
    const r = await largePhase(client, system(client), { ...opts, inFlight: 2, warmupPasses: 1, overwrite: true });

    const uploads = client.log.filter((l) => l.startsWith("up "));
    expect(new Set(uploads)).toEqual(new Set(["up bench/large-1", "up bench/large-2"]));
    expect(uploads).toHaveLength(8);
    expect(client.log.filter((l) => l.startsWith("delete")).sort()).toEqual(["delete bench/large-1", "delete bench/large-2"]);
    expect(r.deleted).toBe(true);
    expect(client.stored()).toEqual([]);
  });
});
