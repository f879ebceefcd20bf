import { performance } from "node:perf_hooks";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { getJson, remove, retrieve, stat, upload } from "../support/http";
import { PrivateRedis } from "../support/private-redis";
import { startSecondCoordinator, type SecondCoordinator } from "../support/second-coordinator";
import { TcpProxy } from "../support/tcp-proxy";
import { waitFor } from "../support/wait";

// Two coordinators, each a process of its own on one database, both answering reads from their
// read caches (kept coherent over Redis: cluster/invalidation-bus.ts). Every read is checked
// against the last acknowledged write; one coordinator is stopped (SIGSTOP) while the other
// writes, Redis (a private one) is stopped and started, and one coordinator alone is cut off from
// Redis (through a proxy the test owns) while the other still reaches it.

const LEASE = "1s";

interface CacheStatus {
  readCache: { enabled: boolean; rows: number; waitingFor?: string[] };
}

const cacheOf = async (base: string) => (await getJson<CacheStatus>(`${base}/status`)).readCache;

/** Both at once (one left unasked for IDLE_LEASE_MS would idle); a timeout names the leases still missing. */
async function bothCaching(a: string, b: string): Promise<void> {
  const caching = async (base: string) => {
    const cache = await cacheOf(base);
    if (!cache.enabled) throw new Error(`readCache ${JSON.stringify(cache)}`);
    return true;
  };
  await Promise.all([a, b].map((base) => waitFor(`${base} answers from its cache`, () => caching(base), 20_000, 100)));
}

async function put(base: string, key: string, body: string): Promise<void> {
  const res = await upload(base, key, body);
  expect({ key, status: res.status }).toEqual({ key, status: 201 });
}

async function expectBody(base: string, key: string, body: string | null): Promise<void> {
  const res = await retrieve(base, key);
  const seen = res.status === 200 ? res.body.toString() : res.status === 404 ? null : `status ${res.status}`;
  expect({ base, key, seen }).toEqual({ base, key, seen: body });
}

/** Overwrite-then-read through the other coordinator, every read checked; the reader had the key cached. */
async function crossLoop(a: string, b: string, prefix: string, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const [writer, reader] = i % 2 ? [b, a] : [a, b];
    const key = `${prefix}/${i % 3}`;
    await retrieve(reader, key);
    if (i % 7 === 6) {
      expect((await remove(writer, key)).status).toBe(200);
      await expectBody(reader, key, null);
      continue;
    }
    await put(writer, key, `${prefix} ${i}`);
    await expectBody(reader, key, `${prefix} ${i}`);
  }
}

describe("two coordinators with their caches on", () => {
  let cluster: TestCluster;
  let b: SecondCoordinator | undefined;

  beforeAll(async () => {
    cluster = await startCluster({ env: { MINIS3_CACHE_LEASE: LEASE } });
    b = await startSecondCoordinator(cluster);
    await bothCaching(cluster.httpUrl, b.url);
  }, 120_000);
  afterAll(async () => {
    b?.process.kill("SIGCONT");
    b?.process.kill("SIGKILL");
    await cluster?.stop();
  }, 30_000);

  test("a write through one is never read stale through the other", async () => {
    await crossLoop(cluster.httpUrl, b!.url, "loop", 120);
    expect((await cacheOf(b!.url)).rows).toBeGreaterThan(0);
    expect((await cacheOf(cluster.httpUrl)).enabled).toBe(true);
  }, 120_000);

  test("a stopped coordinator holds writes up about a lease, and after SIGCONT its first reads are fresh", async () => {
    const a = cluster.httpUrl;
    const keys = Array.from({ length: 20 }, (_, i) => `stalled/${i}`);
    for (const k of keys) await put(a, k, `old ${k}`);
    for (const k of keys) {
      await expectBody(b!.url, k, `old ${k}`);
      await expectBody(b!.url, k, `old ${k}`); // now answered from B's cache
    }
    expect((await cacheOf(b!.url)).rows).toBeGreaterThanOrEqual(keys.length);

    b!.process.kill("SIGSTOP");
    const t0 = performance.now();
    await Promise.all(keys.map((k) => put(a, k, `new ${k}`)));
    const tookMs = Math.round(performance.now() - t0);
    process.stderr.write(`coherent-cache: 20 overwrites with a peer stopped took ${tookMs} ms (lease ${LEASE})\n`);
    b!.process.kill("SIGCONT");
    for (const k of keys) await expectBody(b!.url, k, `new ${k}`);

    // And B caches again, coherent.
    await bothCaching(a, b!.url);
    await crossLoop(a, b!.url, "after-stop", 30);
  }, 120_000);
});

describe("two coordinators when their Redis stops and starts", () => {
  let redis: PrivateRedis;
  let cluster: TestCluster;
  let b: SecondCoordinator | undefined;

  beforeAll(async () => {
    redis = await PrivateRedis.create();
    cluster = await startCluster({ env: { MINIS3_CACHE_LEASE: LEASE, MINIS3_REDIS_URL: redis.url } });
    b = await startSecondCoordinator(cluster);
    await bothCaching(cluster.httpUrl, b.url);
  }, 120_000);
  afterAll(async () => {
    b?.process.kill("SIGKILL");
    await cluster?.stop();
    await redis?.stop();
  }, 30_000);

  test("reads stay right with the caches off, writes still succeed, and the caches come back", async () => {
    const [a, bUrl] = [cluster.httpUrl, b!.url];
    await crossLoop(a, bUrl, "before", 12);

    await redis.stop();
    for (const base of [a, bUrl]) {
      await waitFor(`${base} stops answering from its cache`, async () => !(await cacheOf(base)).enabled, 20_000, 100);
    }
    await crossLoop(a, bUrl, "redis-down", 8);

    await redis.start();
    await bothCaching(a, bUrl);
    await crossLoop(a, bUrl, "redis-back", 20);
  }, 180_000);
});

describe("a coordinator cut off from Redis while the other still reaches it", () => {
  let cluster: TestCluster;
  let link: TcpProxy | undefined;
  let b: SecondCoordinator | undefined;

  beforeAll(async () => {
    cluster = await startCluster({ env: { MINIS3_CACHE_LEASE: LEASE } });
    const redis = new URL(cluster.redisUrl);
    link = new TcpProxy(redis.hostname, Number(redis.port || 6379));
    await link.start();
    redis.hostname = "127.0.0.1";
    redis.port = String(link.port);
    b = await startSecondCoordinator(cluster, undefined, undefined, { MINIS3_REDIS_URL: redis.toString() });
    await bothCaching(cluster.httpUrl, b.url);
  }, 120_000);
  afterAll(async () => {
    b?.process.kill("SIGKILL");
    await cluster?.stop();
    await link?.stop();
  }, 30_000);

  test("its acknowledged overwrites are never read stale through the other, whose cache held the old bytes", async () => {
    const [a, writer] = [cluster.httpUrl, b!.url];
    const keys = Array.from({ length: 10 }, (_, i) => `cut/${i}`);
    for (const k of keys) await put(writer, k, `old ${k}`);
    for (const k of keys) {
      await expectBody(a, k, `old ${k}`);
      await expectBody(a, k, `old ${k}`); // now answered from A's cache
    }
    expect((await cacheOf(a)).rows).toBeGreaterThanOrEqual(keys.length);

    link!.cut();
    // Each checked right after its write is acknowledged, by a stat (the row alone: a GET of the old
    // version whose bytes the trash move already took would look again in MariaDB).
    for (const k of keys) {
      const body = `newer ${k}`;
      await put(writer, k, body);
      const st = await stat(a, k);
      expect({ k, status: st.status, size: (JSON.parse(st.body.toString()) as { size: number }).size }).toEqual({
        k,
        status: 200,
        size: body.length,
      });
      await expectBody(a, k, body);
    }
    expect((await remove(writer, keys[0])).status).toBe(200);
    await expectBody(a, keys[0], null);

    // Back on Redis, both cache again, coherent.
    link!.restore();
    await bothCaching(a, writer);
    await crossLoop(a, writer, "after-cut", 20);
  }, 180_000);
});
