import { performance } from "node:perf_hooks";
import { request } from "undici";
import { startCluster, type TestCluster } from "../deploy/launcher/cluster";
import { MiniS3Client } from "./client";
import { smallBody } from "./payload";
import { round } from "./stats";
import { authorizationFor } from "../deploy/launcher/client-credentials";

// The lifecycle at volume: many small objects come due at the rate they were uploaded (demotion),
// then deleted (trash move) and purged, on a private cluster with short TTLs and the reconciler at
// its default interval (it finds none of these moves). Rates are moved objects over the time from
// the first coming due to the last moved; lateness is the coordinator's own measure (/status:
// commit time minus due time, per version).

export interface TransitionFigures {
  moved: number;
  /** From the first version coming due to the last one moved. */
  seconds: number;
  perSec: number;
  latenessMs: { p50: number | null; p99: number | null; max: number | null };
  /** Attempts that failed (retried with backoff). */
  failed: number;
}

export interface TransitionsResult {
  objects: number;
  objectBytes: number;
  hotTtlMs: number;
  trashTtlMs: number;
  upload: { seconds: number; perSec: number; failed: number };
  delete: { seconds: number; perSec: number; failed: number };
  demote: TransitionFigures;
  trash: TransitionFigures;
  purge: TransitionFigures;
  /** Objects left per tier once every transition was due and done: anything but 0 is growth. */
  left: { hot: number; cold: number; trash: number };
}

export interface StatusJson {
  tiers: { tier: string; objects: number }[];
  transitions?: {
    kind: string;
    moved: number;
    failed: number;
    notMoved?: Record<string, number>;
    latenessMs: TransitionFigures["latenessMs"];
  }[];
}

const CONCURRENCY = 32;

export async function status(url: string): Promise<StatusJson> {
  const res = await request(`${url}/status`, { headers: authorizationFor(url) });
  return (await res.body.json()) as StatusJson;
}

/** The coordinator's transition counters alone (`/status/transitions`: no catalogue scan, no node call). */
export async function transitionsStatus(url: string): Promise<TransitionsJson> {
  const res = await request(`${url}/status/transitions`, { headers: authorizationFor(url) });
  return (await res.body.json()) as TransitionsJson;
}

export type TransitionsJson = Pick<StatusJson, "transitions">;

export const tier = (s: StatusJson, t: string) => s.tiers.find((x) => x.tier === t)?.objects ?? 0;
export const moved = (s: TransitionsJson, kind: string) => s.transitions?.find((x) => x.kind === kind);

/**
 * Polls `/status/transitions` until `done` (or `timeoutMs`: then the figures say how far it got);
 * returns the time of the last look. A whole /status every 500 ms cost the cluster what it
 * measured: a scan of `versions` for the tier counts and another for the repair backlog, BullMQ's
 * counts in Redis, a GetInfo to every node (20,000 objects seeded: the tier scans alone took 23.6 s
 * of MariaDB's statement time over the run, second only to the moves).
 */
export async function until(
  url: string,
  what: string,
  done: (s: TransitionsJson) => boolean,
  timeoutMs: number,
  log: (m: string) => void,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await transitionsStatus(url);
    if (done(s)) return performance.now();
    if (Date.now() > deadline) {
      log(`transitions: gave up waiting for ${what} after ${timeoutMs / 1000} s`);
      return performance.now();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs op on every index, CONCURRENCY at a time; returns how many failed and the time it took. */
async function each(n: number, op: (i: number) => Promise<boolean>): Promise<{ ms: number; failed: number; firstDone: number }> {
  let next = 0;
  let failed = 0;
  let firstDone = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        if (!(await op(next++))) failed++;
        firstDone ||= performance.now();
      }
    }),
  );
  return { ms: performance.now() - t0, failed, firstDone };
}

export function figures(s: TransitionsJson, kind: string, firstDue: number, lastMoved: number): TransitionFigures {
  const m = moved(s, kind);
  const seconds = Math.max(0.001, (lastMoved - firstDue) / 1000);
  return {
    moved: m?.moved ?? 0,
    seconds: round(seconds),
    perSec: round((m?.moved ?? 0) / seconds, 1),
    latenessMs: m?.latenessMs ?? { p50: null, p99: null, max: null },
    failed: m?.failed ?? 0,
  };
}

export async function runTransitions(
  objects: number,
  objectBytes: number,
  ttlMs: number,
  storageNodes: number,
  log: (m: string) => void,
): Promise<TransitionsResult> {
  // Long enough that trash moves are done before purges come due (a purge also takes a version
  // whose bytes never moved, which the trash figures would then miss).
  const trashTtlMs = 3 * ttlMs;
  const cluster: TestCluster = await startCluster({
    storageNodes,
    env: {
      MINIS3_HOT_TTL: `${ttlMs}ms`,
      MINIS3_TRASH_TTL: `${trashTtlMs}ms`,
      MINIS3_RECONCILE_INTERVAL: "30s",
      MINIS3_LOG_LEVEL: "warn",
    },
  });
  const url = cluster.httpUrl;
  const client = new MiniS3Client(url, CONCURRENCY);
  try {
    const key = (i: number) => `transitions/${i}`;
    log(`transitions: uploading ${objects} objects of ${objectBytes} B (hot TTL ${ttlMs} ms, trash TTL ${trashTtlMs} ms)`);
    const up = await each(objects, async (i) => (await client.upload(key(i), smallBody(objectBytes, i), objectBytes)).ok);
    const uploaded = objects - up.failed;
    // Each comes due one TTL after its upload: the first about one TTL after the first upload.
    const wait = (what: string, kind: string, n: number) =>
      until(url, what, (s) => (moved(s, kind)?.moved ?? 0) >= n, 10 * ttlMs + 300_000, log);
    const allCold = await wait("every object demoted", "demote", uploaded);
    const demoted = figures(await status(url), "demote", up.firstDone + ttlMs, allCold);
    log(`transitions: ${demoted.moved} demoted, ${demoted.perSec}/s, lateness p99 ${demoted.latenessMs.p99} ms; deleting them`);

    const del = await each(objects, async (i) => (await client.delete(key(i))).ok);
    const deleted = objects - del.failed;
    // (A version purged before its trash move is never moved: the purges' count ends the wait too.)
    const allTrash = await until(
      url,
      "every deleted object moved to the trash tier",
      (s) => (moved(s, "trash")?.moved ?? 0) >= deleted || (moved(s, "purge")?.moved ?? 0) >= deleted,
      10 * ttlMs + 300_000,
      log,
    );
    const trashed = figures(await status(url), "trash", del.firstDone, allTrash);
    log(`transitions: ${trashed.moved} moved to the trash, ${trashed.perSec}/s; waiting for the purges`);
    const allPurged = await wait("every object purged", "purge", deleted);
    const final = await status(url);
    const purged = figures(final, "purge", del.firstDone + trashTtlMs, allPurged);
    return {
      objects,
      objectBytes,
      hotTtlMs: ttlMs,
      trashTtlMs,
      upload: { seconds: round(up.ms / 1000), perSec: round(uploaded / (up.ms / 1000), 1), failed: up.failed },
      delete: { seconds: round(del.ms / 1000), perSec: round(deleted / (del.ms / 1000), 1), failed: del.failed },
      demote: demoted,
      trash: trashed,
      purge: purged,
      left: { hot: tier(final, "hot"), cold: tier(final, "cold"), trash: tier(final, "trash") },
    };
  } finally {
    await client.pool.close();
    await cluster.stop();
  }
}
