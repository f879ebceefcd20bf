import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { Pool, PoolConnection, RowDataPacket } from "mysql2/promise";
import { pino } from "pino";
import { ErrorCode } from "../../common/errors";
import { TcpProxy } from "../../../test/support/tcp-proxy";
import { CacheFence, READ_FENCE_SQL } from "../cluster/cache-fence";
import { CoordinatorPresence } from "../cluster/coordinator-presence";
import { COORDINATOR_MIGRATIONS } from "../cluster/coordinators-schema";
import { InvalidationBus, LEASE_MARGIN_MS } from "../cluster/invalidation-bus";
import { Catalogue } from "./catalogue";
import { bothServing, presencePeer, testVersion, until, type PresencePeer } from "./testing/cache-peers";
import { throwawayCatalogueDatabase } from "./testing/throwaway-database";

// Two coordinators' catalogues on one database (with their presence heartbeats and the cache fence),
// each with its read cache and invalidation bus on the shared Redis: the writer reaches Redis only
// through a TCP proxy this test owns, the reader directly. Cutting or slowing the writer's link must
// never let the reader answer with a row the writer's acknowledged change replaced.

const TTL = 60_000;
const INTERVAL = 150; // presence heartbeats (and fence reads)
const DOWN_AFTER = 1000;
const LEASE_MS = 600;
const FENCE_MS = Math.max(LEASE_MS, 2 * INTERVAL); // as context.ts sets it
const COMMAND_TIMEOUT = 1000; // the publishing connection's, as in production (lifecycle/queues.ts)
let pool: Pool;
const opened: { bus: InvalidationBus; presence: CoordinatorPresence; proxies: TcpProxy[] }[] = [];
// Declared first: jest runs afterAll hooks in order, and the heartbeats must stop before the database goes.
afterAll(async () => {
  for (const o of opened) {
    await o.bus.close();
    await o.presence.leave().catch(() => undefined);
    for (const p of o.proxies) await p.stop();
  }
});
const db = throwawayCatalogueDatabase(COORDINATOR_MIGRATIONS);
const channel = `minis3-test-${randomBytes(6).toString("hex")}:read-cache`;
const log = pino({ level: "silent" });

type Coordinator = PresencePeer;

/** A coordinator whose Redis (and, if given, fence's MariaDB) is reached through proxies. */
async function coordinator(name: string, redis?: TcpProxy, fenceDb?: Pool): Promise<Coordinator> {
  const port = redis?.port ?? 6379;
  const pub = new Redis({
    host: "127.0.0.1",
    port,
    enableOfflineQueue: false,
    commandTimeout: COMMAND_TIMEOUT,
    autoResendUnfulfilledCommands: false,
  });
  const sub = new Redis({ host: "127.0.0.1", port });
  const id = `${name}/${randomBytes(4).toString("hex")}`;
  const common = { pool, fencePool: fenceDb, channel, id, ttlMs: TTL, intervalMs: INTERVAL, downAfterMs: DOWN_AFTER, log };
  const peer = await presencePeer({ ...common, pub, sub, leaseMs: LEASE_MS, fenceMs: FENCE_MS });
  opened.push({ bus: peer.bus, presence: peer.presence, proxies: redis ? [redis] : [] });
  return peer;
}

async function proxy(port: number): Promise<TcpProxy> {
  const p = new TcpProxy("127.0.0.1", port);
  await p.start();
  return p;
}

beforeAll(() => {
  pool = db.pool();
});

/** The reader has `key` cached: two reads, the second answered by its cache. */
async function cachedBy(reader: Coordinator, bucket: string, key: string, versionId: string): Promise<void> {
  await until("the reader's lease", () => reader.bus.leaseStretch() !== undefined);
  expect((await reader.cat.current(bucket, key))?.versionId).toBe(versionId);
  expect((await reader.cat.current(bucket, key))?.versionId).toBe(versionId);
  expect(reader.cache.get(bucket, key)?.versionId).toBe(versionId);
}

/** A writer behind its own Redis proxy and a reader on Redis, the reader caching `bucket/k`. */
async function writerAndReader(name: string): Promise<{ link: TcpProxy; a: Coordinator; b: Coordinator; bucket: string }> {
  const link = await proxy(6379);
  const a = await coordinator(`${name}-writer`, link);
  const b = await coordinator(`${name}-reader`);
  await bothServing(a, b, LEASE_MS);
  const bucket = `b${process.pid}-${name}`;
  const v1 = testVersion(bucket, "k", 1);
  await a.cat.commit(v1);
  await cachedBy(b, bucket, "k", v1.versionId);
  return { link, a, b, bucket };
}

async function epoch(): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>("SELECT epoch FROM cache_fence WHERE id = 1");
  return Number(rows[0].epoch);
}

test("a writer cut off from Redis acknowledges only once the reader, still on Redis, cannot answer with the old row", async () => {
  const { link, a, b, bucket } = await writerAndReader("cut");
  // With Redis reachable, a write costs no fence round trip.
  const before = await epoch();
  const v1b = testVersion(bucket, "k", 1);
  await a.cat.commit(v1b);
  expect(await epoch()).toBe(before);
  await cachedBy(b, bucket, "k", v1b.versionId);

  link.cut();
  const v2 = testVersion(bucket, "k", 2);
  await a.cat.commit(v2); // acknowledged
  expect((await b.cat.current(bucket, "k"))?.versionId).toBe(v2.versionId);
  expect(await epoch()).toBeGreaterThan(before);

  // The reader's cache is not off for good: a new stretch caches the new row.
  await cachedBy(b, bucket, "k", v2.versionId);
}, 60_000);

test("a PUBLISH that Redis runs only after the writer stopped waiting for it cannot leave the reader serving the old row", async () => {
  const { link, a, b, bucket } = await writerAndReader("slow");

  // Longer than the PUBLISH's timeout plus the wait that follows it: it runs after the acknowledgement.
  link.delay(COMMAND_TIMEOUT + FENCE_MS + LEASE_MARGIN_MS + 1500);
  const v2 = testVersion(bucket, "k", 2);
  await a.cat.commit(v2);
  expect((await b.cat.current(bucket, "k"))?.versionId).toBe(v2.versionId);
  link.restore();
}, 60_000);

/**
 * `pool` whose next upload commit lands in MariaDB and is then answered late, when the test says:
 * a slow link's answer, or a coordinator busy elsewhere when it came.
 */
function answeredLate(base: Pool): { pool: Pool; landed: Promise<void>; answer: () => void } {
  let landed!: () => void;
  let answer!: () => void;
  const held = new Promise<void>((r) => (answer = r));
  let armed = true;
  const pool = Object.assign(Object.create(base) as Pool, {
    async getConnection(): Promise<PoolConnection> {
      const conn = await base.getConnection();
      return Object.assign(Object.create(conn) as PoolConnection, {
        async query(...args: unknown[]): Promise<unknown> {
          const out = await (conn.query as (...a: unknown[]) => Promise<unknown>).apply(conn, args);
          if (armed && String(args[0]).includes("INSERT INTO versions")) {
            armed = false;
            landed();
            await held;
          }
          return out;
        },
      });
    },
  });
  return { pool, landed: new Promise<void>((r) => (landed = r)), answer };
}

test("a commit answered only after a peer's fenced overwrite of its key does not cache the row it replaced", async () => {
  const link = await proxy(6379);
  const b = await coordinator("late-overwriter", link);
  const a = await coordinator("late-committer");
  await bothServing(a, b, LEASE_MS);
  const bucket = `b${process.pid}-late`;
  // A's commit of v1 lands, and its answer is held while B, cut off from Redis, overwrites the key:
  // B raises the fence and acknowledges v2 once A's cache has seen the new epoch (a new stretch).
  const late = answeredLate(pool);
  const aCat = new Catalogue(late.pool, TTL, a.cache, a.presence, a.bus);
  const v1 = testVersion(bucket, "k", 1);
  const committing = aCat.commit(v1);
  await late.landed;
  link.cut();
  const v2 = testVersion(bucket, "k", 2);
  await b.cat.commit(v2); // acknowledged
  late.answer();
  await committing;
  // v1 was read (committed) in the stretch before the raise: it must not be served now.
  expect((await a.cat.current(bucket, "k"))?.versionId).toBe(v2.versionId);
}, 60_000);

test("a writer that can reach neither Redis nor the fence does not acknowledge its change", async () => {
  const link = await proxy(6379);
  const mariadb = await proxy(3306);
  const { createPool } = await import("mysql2/promise");
  const [rows] = await pool.query<RowDataPacket[]>("SELECT DATABASE() AS db");
  const fenceDb = createPool({ host: "127.0.0.1", port: mariadb.port, user: "root", database: String(rows[0].db), connectionLimit: 2 });
  try {
    const a = await coordinator("cut-writer", link, fenceDb);
    const b = await coordinator("cut-reader");
    await bothServing(a, b, LEASE_MS);
    const bucket = `b${process.pid}-nofence`;
    link.cut();
    mariadb.cut();
    await expect(a.cat.commit(testVersion(bucket, "k", 1))).rejects.toMatchObject({ code: ErrorCode.CatalogueUnavailable });
  } finally {
    await fenceDb.end().catch(() => undefined);
    await mariadb.stop();
  }
}, 60_000);

// The fence's lease alone, on a clock the test moves, its epoch in the real table: what a writer
// raises, a reader's next look sees as a new stretch; a look that read the old epoch never holds
// the lease past its own send time + lease.

const FENCE_TEST_LEASE = 1000;
let now = 0;
/** A clock the fence tests move by hand. */
const clock = { now: () => now };

/** What a presence heartbeat reads of the epoch. */
async function look(): Promise<string> {
  const [rows] = await pool.query<RowDataPacket[]>(READ_FENCE_SQL);
  return String(rows[0].epoch);
}

test("a cache holds the fence only from a look, for a lease from when the look was sent", async () => {
  const reader = new CacheFence(pool, FENCE_TEST_LEASE, log, clock);
  expect(reader.stretch()).toBeUndefined(); // no look yet
  now = 100;
  reader.seen(100, await look());
  const first = reader.stretch();
  expect(first).toBeDefined();
  now = 600;
  reader.seen(600, await look()); // same epoch: renewed, same stretch
  now = 1599;
  expect(reader.stretch()).toBe(first);
  now = 1600;
  expect(reader.stretch()).toBeUndefined(); // lapsed: no look sent in the last lease answered
});

test("a raise is a new stretch at the next look, and a look answered late with the old epoch only starts another", async () => {
  now = 10_000;
  const reader = new CacheFence(pool, FENCE_TEST_LEASE, log, clock);
  const writer = new CacheFence(pool, FENCE_TEST_LEASE, log, clock);
  const old = await look();
  reader.seen(10_000, old);
  const before = reader.stretch()!;

  await writer.raise();
  const raised = await look();
  expect(raised).not.toBe(old);
  now = 10_300;
  reader.seen(10_300, raised);
  const after = reader.stretch()!;
  expect(after).not.toBe(before);

  // A look sent before the raise, answered only now: it starts yet another stretch (what was
  // cached meanwhile goes), and holds the lease no longer than its own send time allows.
  reader.seen(10_200, old);
  expect(reader.stretch()).not.toBe(after);
  now = 11_299;
  expect(reader.stretch()).toBeDefined(); // the look sent at 10,300
  now = 11_300;
  expect(reader.stretch()).toBeUndefined();
});
