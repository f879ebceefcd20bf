import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { request } from "undici";
import { startCluster, type TestCluster } from "../deploy/launcher/cluster";
import { smallBody } from "./payload";
import { OpStats, round, type OpSummary } from "./stats";
import { authorizationFor } from "../deploy/launcher/client-credentials";

// The lifecycle, timed: objects go cold after an idle time, are read cold (latency), and come back
// hot. Needs a hot TTL of seconds, so this phase always runs on a private cluster of its own.

export interface TiersResult {
  objects: number;
  objectBytes: number;
  hotTtlMs: number;
  /** From the first object coming due to the last one cold: what the demotion jobs sustained. */
  demotion: { seconds: number; objectsPerSec: number; mbPerSec: number };
  /** Reads of cold objects (streamed from the backup node), every body verified. */
  coldRetrieve: OpSummary & { servedCold: number };
  /** From the first cold read to the last object hot again. */
  promotion: { seconds: number; objectsPerSec: number; mbPerSec: number };
  /** The same reads once hot, for comparison. */
  hotRetrieve: OpSummary;
}

const HOT_TTL_MS = 3000;

interface TierCounts {
  hot: number;
  cold: number;
}

async function tierCounts(url: string): Promise<TierCounts> {
  const res = await request(`${url}/status`, { headers: authorizationFor(url) });
  const body = (await res.body.json()) as { tiers: { tier: string; objects: number }[] };
  const of = (t: string) => body.tiers.find((x) => x.tier === t)?.objects ?? 0;
  return { hot: of("hot"), cold: of("cold") };
}

async function waitFor(url: string, done: (c: TierCounts) => boolean, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done(await tierCounts(url))) return performance.now();
    if (Date.now() > deadline) throw new Error(`tiers: timed out after ${timeoutMs} ms (now ${JSON.stringify(await tierCounts(url))})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until every key has been seen hot once (/stat): a promoted object may go cold again one
 * hot TTL later, before the last one is promoted, so tier totals cannot tell.
 */
async function waitAllSeenHot(url: string, keys: string[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let left = keys;
  while (left.length) {
    if (Date.now() > deadline) throw new Error(`tiers: ${left.length} objects not promoted after ${timeoutMs} ms`);
    const stillCold: string[] = [];
    for (let i = 0; i < left.length; i += 16) {
      await Promise.all(
        left.slice(i, i + 16).map(async (key) => {
          const res = await request(`${url}/stat?key=${encodeURIComponent(key)}`, { headers: authorizationFor(url) });
          const body = (await res.body.json()) as { tier?: string };
          if (body.tier !== "hot") stillCold.push(key);
        }),
      );
    }
    left = stillCold;
    if (left.length) await new Promise((r) => setTimeout(r, 100));
  }
  return performance.now();
}

/** Reads every key `concurrency` at a time, verifying each body; counts how many were served cold. */
async function readAll(
  url: string,
  keys: string[],
  sums: Map<string, string>,
  concurrency: number,
): Promise<OpSummary & { servedCold: number }> {
  const stats = new OpStats();
  let servedCold = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) {
        const key = keys[next++];
        const start = performance.now();
        try {
          const res = await request(`${url}/retrieve?key=${encodeURIComponent(key)}`, { headers: authorizationFor(url) });
          const hash = createHash("sha256");
          for await (const chunk of res.body) hash.update(chunk as Buffer);
          if (res.statusCode !== 200) stats.fail(`http ${res.statusCode}`);
          else if (hash.digest("hex") !== sums.get(key)) stats.fail("checksum mismatch");
          else {
            stats.ok(performance.now() - start);
            if (res.headers["x-minis3-tier"] === "cold") servedCold++;
          }
        } catch (e) {
          stats.fail((e as { code?: string }).code ?? (e as Error).message);
        }
      }
    }),
  );
  return { ...stats.summary(performance.now() - t0), servedCold };
}

const rate = (n: number, bytes: number, ms: number) => ({
  seconds: round(ms / 1000),
  objectsPerSec: round(n / (ms / 1000), 1),
  mbPerSec: round(bytes / 1e6 / (ms / 1000), 1),
});

export async function runTiers(objects: number, objectBytes: number, log: (m: string) => void): Promise<TiersResult> {
  const cluster: TestCluster = await startCluster({
    env: { MINIS3_HOT_TTL: `${HOT_TTL_MS}ms`, MINIS3_RECONCILE_INTERVAL: "250ms", MINIS3_LOG_LEVEL: "warn" },
  });
  try {
    const url = cluster.httpUrl;
    const keys = Array.from({ length: objects }, (_, i) => `tiers/${i}`);
    const sums = new Map<string, string>();
    log(`tiers: uploading ${objects} objects of ${objectBytes} B (hot TTL ${HOT_TTL_MS} ms)`);
    let firstUploadDone = 0;
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(
        keys.slice(i, i + 16).map(async (key, j) => {
          const body = smallBody(objectBytes, i + j);
          sums.set(key, createHash("sha256").update(body).digest("hex"));
          const res = await request(`${url}/upload?key=${encodeURIComponent(key)}`, {
            method: "POST",
            body,
            headers: authorizationFor(url),
          });
          await res.body.dump();
          if (res.statusCode !== 201) throw new Error(`tiers: upload of ${key} answered ${res.statusCode}`);
        }),
      );
      if (!firstUploadDone) firstUploadDone = performance.now();
    }
    const totalBytes = objects * objectBytes;
    const allCold = await waitFor(url, (c) => c.cold >= objects, 120_000);
    const demotionMs = allCold - (firstUploadDone + HOT_TTL_MS);
    log(`tiers: all cold; reading them back cold`);
    const coldStart = performance.now();
    const coldRetrieve = await readAll(url, keys, sums, 8);
    const allHot = await waitAllSeenHot(url, keys, 120_000);
    const hotRetrieve = await readAll(url, keys, sums, 8);
    return {
      objects,
      objectBytes,
      hotTtlMs: HOT_TTL_MS,
      demotion: rate(objects, totalBytes, demotionMs),
      coldRetrieve,
      promotion: rate(objects, totalBytes, allHot - coldStart),
      hotRetrieve,
    };
  } finally {
    await cluster.stop();
  }
}
