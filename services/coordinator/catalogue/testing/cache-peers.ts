import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import type { Pool } from "mysql2/promise";
import type { Logger } from "../../../common/logger";
import { CacheFence } from "../../cluster/cache-fence";
import { CoordinatorPresence } from "../../cluster/coordinator-presence";
import { LEASE_MARGIN_MS, InvalidationBus } from "../../cluster/invalidation-bus";
import { Catalogue, type NewVersion } from "../catalogue";
import { ReadCache } from "../read-cache";
import { newTestVersion } from "./new-version";

// What the tests of coordinators' read caches kept coherent over the invalidation bus share.

/** A new version of `bucket/key` (its size `n` tells versions apart in a failure's output). */
export function testVersion(bucket: string, key: string, n: number): NewVersion {
  return newTestVersion(bucket, key, { size: n });
}

export async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Both caches answer, each has heard the other, and its first lease of not knowing every peer is over. */
export async function bothServing(a: { bus: InvalidationBus }, b: { bus: InvalidationBus }, leaseMs: number): Promise<void> {
  await until("both leases", () => a.bus.leaseStretch() !== undefined && b.bus.leaseStretch() !== undefined);
  await new Promise((r) => setTimeout(r, leaseMs + LEASE_MARGIN_MS + 50));
}

/** A coordinator's catalogue with its read cache, invalidation bus, presence and fence, all real. */
export interface PresencePeer {
  cat: Catalogue;
  cache: ReadCache;
  bus: InvalidationBus;
  presence: CoordinatorPresence;
}

/** Starts one (bus first, then the presence, as context.ts does); the caller closes both. */
export async function presencePeer(o: {
  pool: Pool;
  /** Where the fence's epoch is read and raised (default `pool`). */
  fencePool?: Pool;
  pub: Redis;
  sub: Redis;
  channel: string;
  id: string;
  ttlMs: number;
  intervalMs: number;
  downAfterMs: number;
  leaseMs: number;
  fenceMs: number;
  log: Logger;
  idleLeaseMs?: number;
}): Promise<PresencePeer> {
  const fence = new CacheFence(o.fencePool ?? o.pool, o.fenceMs, o.log);
  const presence = new CoordinatorPresence(o.pool, o.id, o.intervalMs, o.downAfterMs, o.log, fence);
  const cache: ReadCache = new ReadCache(1 << 20, () => bus.leaseStretch());
  const bus: InvalidationBus = new InvalidationBus(
    o.pub,
    o.sub,
    o.channel,
    o.id,
    o.leaseMs,
    (keys, versionIds) => cache.changed(keys, versionIds),
    true,
    presence,
    fence,
    o.log,
    undefined,
    o.idleLeaseMs,
  );
  bus.start();
  await presence.start();
  return { cat: new Catalogue(o.pool, o.ttlMs, cache, presence, bus), cache, bus, presence };
}

/**
 * `writer` commits `bucket/k` over and over while `reader` reads it for `rounds` stretches of
 * `readMs`, awaiting `between()` after each (its cache idling, say): no read may answer a version
 * older than the last one the writer had seen acknowledged when the read was sent. Answers how many
 * reads found `k` in the reader's cache, and how many commits were acknowledged.
 */
export async function readsNeverStale(
  writer: { cat: Catalogue },
  reader: { cat: Catalogue; cache: ReadCache },
  bucket: string,
  rounds: number,
  readMs: number,
  between: () => Promise<void>,
): Promise<{ hits: number; acked: number }> {
  let acked = 0;
  let writing = true;
  const writes = (async () => {
    for (let i = 1; writing; i++) {
      await writer.cat.commit(testVersion(bucket, "k", i));
      acked = i;
    }
  })();
  let hits = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const end = performance.now() + readMs;
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 2)); // a cache hit answers without a turn of the loop: let the writer commit
        const floor = acked;
        const size = (await reader.cat.current(bucket, "k"))?.size ?? 0;
        expect({ round, floor, stale: size < floor }).toEqual({ round, floor, stale: false });
        if (reader.cache.get(bucket, "k")) hits++;
      }
      await between();
    }
  } finally {
    writing = false;
    await writes;
  }
  return { hits, acked };
}
