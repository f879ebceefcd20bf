import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import type { Pool } from "mysql2/promise";
import { pino } from "pino";
import { InvalidationBus } from "../cluster/invalidation-bus";
import { Catalogue } from "./catalogue";
import { ReadCache } from "./read-cache";
import { bothServing, readsNeverStale, testVersion, until } from "./testing/cache-peers";
import { LEASE_MARGIN_MS } from "../cluster/invalidation-bus";
import { throwawayCatalogueDatabase } from "./testing/throwaway-database";

// Two coordinators' catalogues on one database, each with its read cache and invalidation bus on
// the shared Redis (a channel of this run's own): a write through one is never read stale through
// the other, while both caches answer.

const TTL = 60_000;
const LEASE_MS = 600;
const db = throwawayCatalogueDatabase();
const channel = `minis3-test-${randomBytes(6).toString("hex")}:read-cache`;
/** A channel of one test's own: the peers of earlier tests heartbeat on `channel` for a while yet. */
const ownChannel = () => `minis3-test-${randomBytes(6).toString("hex")}:read-cache`;
const log = pino({ level: "silent" });
let pool: Pool;
const opened: { bus: InvalidationBus }[] = [];

interface Coordinator {
  cat: Catalogue;
  cache: ReadCache;
  bus: InvalidationBus;
  sub: Redis;
}

function coordinator(name: string, idleLeaseMs?: number, on = channel): Coordinator {
  const pub = new Redis({ host: "127.0.0.1", port: 6379, enableOfflineQueue: false, commandTimeout: 1000 });
  const sub = new Redis({ host: "127.0.0.1", port: 6379 });
  const cache: ReadCache = new ReadCache(1 << 20, () => bus.leaseStretch());
  const bus: InvalidationBus = new InvalidationBus(
    pub,
    sub,
    on,
    `${name}/${randomBytes(4).toString("hex")}`,
    LEASE_MS,
    (keys, versionIds) => cache.changed(keys, versionIds),
    true,
    // The presence's leases hold, and there is always another coordinator, never shown idle (so
    // every change is sent, or skipped by rule 7 only; idle-presence-caches.test.ts has rule 8).
    {
      writableStretch: () => 1,
      aloneStretch: () => undefined,
      cachingStretch: () => 1,
      peersIdleAt: () => false,
      announceCacheIdle: () => undefined,
    },
    // The fence's lease holds too (fenced-caches.test.ts covers it, with Redis cut off).
    { stretch: () => 1, raise: () => Promise.resolve(), leaseMs: LEASE_MS },
    log,
    undefined,
    idleLeaseMs,
  );
  bus.start();
  opened.push({ bus });
  return { cat: new Catalogue(pool, TTL, cache, undefined, bus), cache, bus, sub };
}

/**
 * A writer and a reader whose cache idles after `idleMs`, on a channel of their own, both serving;
 * idles() waits until B's heartbeats have stopped and A no longer counts it (rule 6).
 */
async function writerAndIdlingReader(n: string, idleMs: number): Promise<{ a: Coordinator; b: Coordinator; idles: () => Promise<void> }> {
  const own = ownChannel();
  const a = coordinator(`a${n}`, undefined, own);
  const b = coordinator(`b${n}`, idleMs, own);
  await bothServing(a, b, LEASE_MS);
  const idles = () => new Promise<void>((r) => setTimeout(r, idleMs + LEASE_MS / 4 + 2 * LEASE_MS + LEASE_MARGIN_MS + 200));
  return { a, b, idles };
}

/** B, its subscription read again, renews its lease and serves `versionId` of bucket/k from its cache. */
async function servesAgain(b: Coordinator, bucket: string, versionId: string): Promise<void> {
  await until("B's lease again", () => b.bus.leaseStretch() !== undefined);
  expect((await b.cat.current(bucket, "k"))?.versionId).toBe(versionId);
  expect(b.cache.get(bucket, "k")?.versionId).toBe(versionId);
}

beforeAll(() => {
  pool = db.pool();
});
afterAll(async () => {
  await Promise.all(opened.map((o) => o.bus.close()));
});

test("overwrites through one coordinator are never read stale through the other, whose cache answers", async () => {
  const a = coordinator("a");
  const b = coordinator("b");
  await bothServing(a, b, LEASE_MS);
  const bucket = `b${process.pid}-loop`;
  const keys = ["k0", "k1", "k2", "k3"];
  let hits = 0;
  for (let i = 0; i < 200; i++) {
    const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
    const key = keys[i % keys.length];
    // The reader has the key cached (two reads: the first fills, the second is a hit).
    await reader.cat.current(bucket, key);
    const before = await reader.cat.current(bucket, key);
    if (before && reader.cache.get(bucket, key)?.versionId === before.versionId) hits++;
    const v = testVersion(bucket, key, i);
    await writer.cat.commit(v);
    const seen = await reader.cat.current(bucket, key);
    expect({ i, versionId: seen?.versionId }).toEqual({ i, versionId: v.versionId });
    if (i % 10 === 9) {
      await writer.cat.markDeleted(bucket, key);
      expect({ i, deleted: await reader.cat.current(bucket, key) }).toEqual({ i, deleted: null });
    }
  }
  // The caches were answering all along (the check above would be empty without them).
  expect(hits).toBeGreaterThan(150);
}, 60_000);

test("a peer that stops handling messages holds up a write only until its lease lapsed, and then serves nothing cached", async () => {
  const a = coordinator("a2");
  const b = coordinator("b2");
  await bothServing(a, b, LEASE_MS);
  const bucket = `b${process.pid}-stall`;
  await a.cat.commit(testVersion(bucket, "k", 1));
  await b.cat.current(bucket, "k");
  expect(b.cache.get(bucket, "k")).toBeDefined(); // cached by B

  // B's subscription stops being read, as in a stopped process (its socket still open).
  const stream = (b.sub as unknown as { stream: { pause(): void; resume(): void } }).stream;
  stream.pause();
  const v2 = testVersion(bucket, "k", 2);
  const t0 = performance.now();
  await a.cat.commit(v2);
  const took = performance.now() - t0;
  // It waited for B's lease to run out (not forever: the test's own timeout is the bound).
  expect(took).toBeGreaterThanOrEqual(LEASE_MS - 300);
  expect(b.bus.leaseStretch()).toBeUndefined();
  expect(b.bus.leasesMissing()).toEqual(["redis"]); // what /status names: its heartbeats are not back
  expect((await b.cat.current(bucket, "k"))?.versionId).toBe(v2.versionId);

  // B reads its backlog, renews, and serves again, fresh.
  stream.resume();
  await servesAgain(b, bucket, v2.versionId);
}, 60_000);

test("a peer that closed cleanly is not waited for", async () => {
  const a = coordinator("a3");
  const b = coordinator("b3");
  await bothServing(a, b, LEASE_MS);
  await b.bus.close();
  await new Promise((r) => setTimeout(r, 100)); // its bye arrives
  const bucket = `b${process.pid}-bye`;
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) await a.cat.commit(testVersion(bucket, "k", i));
  // Five writes that each waited out B's lease would take 5 × 700 ms.
  expect(performance.now() - t0).toBeLessThan(5 * LEASE_MS);
}, 30_000);

test("a peer whose cache nobody asks stops holding a lease: writes no longer wait for it, and its next read is fresh", async () => {
  const idleMs = 800;
  const a = coordinator("a5");
  const b = coordinator("b5", idleMs);
  await bothServing(a, b, LEASE_MS);
  const bucket = `b${process.pid}-idle`;
  await a.cat.commit(testVersion(bucket, "k", 1));
  await b.cat.current(bucket, "k");
  expect(b.cache.get(bucket, "k")).toBeDefined(); // cached by B

  // Nothing asks B's cache (no leaseStretch() here either): it stops its heartbeats, its lease
  // lapses, and A stops counting it once that lease must be over.
  await new Promise((r) => setTimeout(r, idleMs + LEASE_MS / 4 + 2 * LEASE_MS + LEASE_MARGIN_MS + 200));
  // B now stops reading its subscription, as a stopped process would: a writer still waiting for
  // its ack would wait out its lease (the test above).
  const stream = (b.sub as unknown as { stream: { pause(): void; resume(): void } }).stream;
  stream.pause();
  const v2 = testVersion(bucket, "k", 2);
  const t0 = performance.now();
  await a.cat.commit(v2);
  expect(performance.now() - t0).toBeLessThan(LEASE_MS - 300);

  // B asked again: no lease yet (its heartbeat cannot come back), so it reads MariaDB.
  expect((await b.cat.current(bucket, "k"))?.versionId).toBe(v2.versionId);
  stream.resume();
  await servesAgain(b, bucket, v2.versionId);
}, 30_000);

test("a peer whose cache was never asked holds no lease from its start: it sends no heartbeat or ack, and receives no invalidation", async () => {
  const watch = new Redis({ host: "127.0.0.1", port: 6379 });
  const heard: { t: string; from: string }[] = [];
  watch.on("message", (_c: string, m: string) => heard.push(JSON.parse(m) as { t: string; from: string }));
  const own = ownChannel();
  await watch.subscribe(own);
  try {
    const a = coordinator("a6", undefined, own);
    const b = coordinator("b6", undefined, own); // the default idle lease (10 s): long past the end of this test
    await until("A's lease", () => a.bus.leaseStretch() !== undefined);
    await new Promise((r) => setTimeout(r, LEASE_MS + LEASE_MARGIN_MS + 50)); // rule 3's first lease
    const bucket = `b${process.pid}-never`;
    for (let i = 0; i < 3; i++) await a.cat.commit(testVersion(bucket, "k", i));
    expect(heard.filter((m) => m.from === b.bus.id)).toEqual([]);
    // Nobody else holds a lease, so A published no invalidation either (rule 7): B had none to handle.
    expect(heard.filter((m) => m.t === "inv")).toEqual([]);

    // Asked once, it serves as any peer: heartbeats, then a lease, then what A commits is published and acked.
    await until("B's lease", () => b.bus.leaseStretch() !== undefined);
    expect((await b.cat.current(bucket, "k"))?.size).toBe(2); // read from MariaDB: nothing was cached before
    expect((await b.cat.current(bucket, "k"))?.size).toBe(2);
    expect(b.cache.get(bucket, "k")?.size).toBe(2);
    await a.cat.commit(testVersion(bucket, "k", 3));
    // The watcher reads its own connection: A's commit can return (on B's ack) in the same poll
    // phase before the watcher's socket is read, so its copy of the invalidation is waited for.
    await until("A's invalidation", () => heard.some((m) => m.from === a.bus.id && m.t === "inv"));
    await until("B's ack", () => heard.some((m) => m.from === b.bus.id && m.t === "ack"));
    expect((await b.cat.current(bucket, "k"))?.size).toBe(3);
  } finally {
    await watch.quit();
  }
}, 30_000);

test("a peer whose first heartbeat the writer hears only with its PING's reply is invalidated, not skipped", async () => {
  const { a, b, idles } = await writerAndIdlingReader("7", 300);
  const bucket = `b${process.pid}-ping`;
  await a.cat.commit(testVersion(bucket, "k", 1));
  await idles(); // so A's next commit starts with a PING (rule 7)

  // A stops reading its subscription; meanwhile B is asked again, heartbeats, and caches k.
  const stream = (a.sub as unknown as { stream: { pause(): void; resume(): void } }).stream;
  stream.pause();
  await until("B's lease", () => b.bus.leaseStretch() !== undefined);
  expect((await b.cat.current(bucket, "k"))?.size).toBe(1);
  expect(b.cache.get(bucket, "k")?.size).toBe(1); // cached by B

  // A commits: it has heard no peer, so it PINGs; the reply comes behind B's heartbeat, which Redis
  // ran first, so A must publish and wait for B before it acknowledges.
  const committed = a.cat.commit(testVersion(bucket, "k", 2));
  await new Promise((r) => setTimeout(r, 100));
  stream.resume();
  await committed;
  expect((await b.cat.current(bucket, "k"))?.size).toBe(2);
}, 30_000);

test("a reader whose cache idles and is asked again, over and over, never reads what a write it saw acknowledged replaced", async () => {
  const { a, b, idles } = await writerAndIdlingReader("8", 250);
  const bucket = `b${process.pid}-idle-loop`;
  // A's commits while B idles go unpublished (rule 7).
  const { hits } = await readsNeverStale(a, b, bucket, 4, 400, idles);
  expect(hits).toBeGreaterThan(0); // B's cache answered in between
}, 60_000);
