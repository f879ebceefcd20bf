import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import type { Pool, RowDataPacket } from "mysql2/promise";
import { pino } from "pino";
import { BEAT_SQL, CoordinatorPresence } from "../cluster/coordinator-presence";
import { COORDINATOR_MIGRATIONS } from "../cluster/coordinators-schema";
import { InvalidationBus } from "../cluster/invalidation-bus";
import { type PresencePeer, presencePeer, readsNeverStale, testVersion, until } from "./testing/cache-peers";
import { throwawayCatalogueDatabase } from "./testing/throwaway-database";

// Rule 8 of the invalidation bus: a read cache that idles says so in its coordinator's presence row,
// and a writer whose fresh look shows every peer idle acknowledges its change without any Redis
// round trip. Two coordinators' catalogues on one database, with real presences and buses.

const TTL = 60_000;
const INTERVAL = 150; // presence heartbeats
const DOWN_AFTER = 1000;
const LEASE_MS = 600;
let pool: Pool;
const opened: { bus: InvalidationBus; presence: CoordinatorPresence }[] = [];
// After each test: every coordinator on the database counts in the others' looks (one cluster), so
// a caching one left from an earlier test would keep the next test's writer from rule 8.
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.bus.close();
    await o.presence.leave().catch(() => undefined);
  }
});
const db = throwawayCatalogueDatabase(COORDINATOR_MIGRATIONS);
const log = pino({ level: "silent" });

interface Coordinator extends PresencePeer {
  pub: Redis;
  sub: Redis;
}

async function coordinator(name: string, channel: string, idleLeaseMs?: number): Promise<Coordinator> {
  const pub = new Redis({ host: "127.0.0.1", port: 6379, enableOfflineQueue: false, commandTimeout: 1000 });
  const sub = new Redis({ host: "127.0.0.1", port: 6379 });
  const id = `${name}/${randomBytes(4).toString("hex")}`;
  const timing = { ttlMs: TTL, intervalMs: INTERVAL, downAfterMs: DOWN_AFTER, leaseMs: LEASE_MS, fenceMs: LEASE_MS };
  const peer = await presencePeer({ pool, pub, sub, channel, id, log, idleLeaseMs, ...timing });
  opened.push(peer);
  return { ...peer, pub, sub };
}

/** A writer and a reader on a channel of their own; the reader's cache idles after `idleMs` unasked. */
async function writerAndReader(n: string, idleMs: number): Promise<{ a: Coordinator; b: Coordinator }> {
  const channel = `minis3-test-${randomBytes(6).toString("hex")}:read-cache`;
  const a = await coordinator(`a${n}`, channel);
  const b = await coordinator(`b${n}`, channel, idleMs);
  return { a, b };
}

/** The Redis calls a writer makes for its changes: invalidations published, and PINGs (rule 7). */
function busCalls(c: Coordinator): { invalidations: () => number; pings: () => number } {
  const publish = jest.spyOn(c.pub, "publish");
  const ping = jest.spyOn(c.sub, "ping");
  return {
    invalidations: () => publish.mock.calls.filter(([, m]) => String(m).startsWith('{"t":"inv"')).length,
    pings: () => ping.mock.calls.length,
  };
}

beforeAll(() => {
  pool = db.pool();
});

test("a writer whose only peer's cache is idle in the presence acknowledges its changes without a Redis round trip", async () => {
  const { a, b } = await writerAndReader("1", 300);
  // B was never asked: idle from its start, and A's looks show it.
  await until("A's look showing B idle", () => a.presence.peersIdleAt(performance.now()));
  const calls = busCalls(a);
  const bucket = `b${process.pid}-quiet`;
  for (let i = 0; i < 5; i++) await a.cat.commit(testVersion(bucket, "k", i));
  expect({ invalidations: calls.invalidations(), pings: calls.pings() }).toEqual({ invalidations: 0, pings: 0 });

  // Asked, B announces caching; A's next look shows it, and A's changes are sent again (and B's reads fresh).
  await until("B's cache", () => b.bus.leaseStretch() !== undefined);
  expect((await b.cat.current(bucket, "k"))?.size).toBe(4);
  expect((await b.cat.current(bucket, "k"))?.size).toBe(4);
  expect(b.cache.get(bucket, "k")?.size).toBe(4);
  await a.cat.commit(testVersion(bucket, "k", 5));
  expect(calls.invalidations()).toBeGreaterThan(0);
  expect((await b.cat.current(bucket, "k"))?.size).toBe(5);
}, 30_000);

test("a cache asked again after idling serves only two presence intervals after its announcement was answered", async () => {
  const { b } = await writerAndReader("2", 300);
  await new Promise((r) => setTimeout(r, 3 * INTERVAL)); // idle since its start, announced on its first beats
  const askedAt = performance.now();
  expect(b.bus.leaseStretch()).toBeUndefined();
  expect(b.bus.leasesMissing()).toContain("announcement"); // what /status names while it waits
  await until("B's cache", () => b.bus.leaseStretch() !== undefined);
  expect(b.bus.leasesMissing()).toEqual([]);
  // The announcement's beat was sent after the ask and answered later still: 2 intervals at least.
  expect(performance.now() - askedAt).toBeGreaterThanOrEqual(2 * INTERVAL);
}, 30_000);

test("a reader that idles and is asked again, over and over, while the writer skips the bus, never reads a row an acknowledged write replaced", async () => {
  const idleMs = 250;
  const { a, b } = await writerAndReader("3", idleMs);
  const calls = busCalls(a);
  const bucket = `b${process.pid}-idle-loop`;
  // Between rounds B idles: its heartbeats stop, it announces idle, and A's next looks show it.
  const idles = () => new Promise<void>((r) => setTimeout(r, idleMs + LEASE_MS / 4 + 4 * INTERVAL + 200));
  const { hits, acked } = await readsNeverStale(a, b, bucket, 4, 700, idles);
  expect(hits).toBeGreaterThan(0); // B's cache answered in between
  // And A acknowledged some of its commits with neither a PUBLISH nor a PING (rule 8).
  expect(calls.invalidations() + calls.pings()).toBeLessThan(acked);
}, 60_000);

test("a beat that lands late cannot undo a newer cache announcement", async () => {
  const id = `late/${randomBytes(4).toString("hex")}`;
  const beat = (idle: number, seq: number) => pool.query(BEAT_SQL, [id, process.pid, null, idle, seq]);
  const row = async () => {
    const [rows] = await pool.query<RowDataPacket[]>("SELECT cache_idle, cache_seq FROM coordinators WHERE id = ?", [id]);
    return { idle: Number(rows[0].cache_idle), seq: Number(rows[0].cache_seq) };
  };
  await beat(1, 1); // first row: idle
  await beat(0, 2); // caching announced
  await beat(1, 1); // the idle beat sent before it, landing late
  expect(await row()).toEqual({ idle: 0, seq: 2 });
  await beat(1, 3);
  expect(await row()).toEqual({ idle: 1, seq: 3 });
  await pool.query("DELETE FROM coordinators WHERE id = ?", [id]);
});
