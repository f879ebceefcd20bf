import { performance } from "node:perf_hooks";
import type { Mix } from "./args";
import type { ObjectClient } from "./client";
import { sha256, smallBody } from "./payload";
import { OpStats, round, type OpSummary } from "./stats";

// The mixed small-object workload: `concurrency` loops, each picking upload, retrieve or delete by
// weight, on keys only this run writes. A key is used by one operation at a time, so every
// retrieve knows exactly what it must get back.

export interface MixedOptions {
  concurrency: number;
  size: number;
  durationMs: number;
  maxOps: number;
  mix: Mix;
  keyPrefix: string;
}

export interface MixedResult {
  elapsedMs: number;
  preloaded: number;
  operations: { upload: OpSummary; retrieve: OpSummary; delete: OpSummary };
  total: { attempts: number; succeeded: number; opsPerSec: number; okPerSec: number; successRate: number };
  /** Retrieves whose bytes differed from what was uploaded (also counted as failures). */
  verifyFailures: number;
  /** Keys left in the store at the end (this run's). */
  liveKeys: string[];
}

interface Stored {
  key: string;
  sha256: string;
  size: number;
}

/** Idle keys with what they hold; taking one makes it busy until it is put back. */
class KeyPool {
  private readonly idle: Stored[] = [];

  get size(): number {
    return this.idle.length;
  }

  put(s: Stored): void {
    this.idle.push(s);
  }

  take(): Stored | undefined {
    if (!this.idle.length) return undefined;
    const i = Math.floor(Math.random() * this.idle.length);
    const s = this.idle[i];
    this.idle[i] = this.idle[this.idle.length - 1];
    this.idle.pop();
    return s;
  }

  keys(): string[] {
    return this.idle.map((s) => s.key);
  }
}

export async function runMixed(client: ObjectClient, o: MixedOptions): Promise<MixedResult> {
  const pool = new KeyPool();
  const stats = { upload: new OpStats(), retrieve: new OpStats(), delete: new OpStats() };
  let seq = 0;
  let verifyFailures = 0;

  const upload = async (record: boolean): Promise<void> => {
    const n = seq++;
    const key = `${o.keyPrefix}/${n}`;
    const body = smallBody(o.size, n);
    const digest = sha256(body);
    const t0 = performance.now();
    const r = await client.upload(key, body, body.length);
    if (record) r.ok ? stats.upload.ok(performance.now() - t0) : stats.upload.fail(r.reason!);
    // A failed upload may or may not have landed: drop the key rather than guess what it holds.
    if (r.ok) pool.put({ key, sha256: digest, size: body.length });
  };

  // Something to retrieve and delete from the first second on (not measured).
  const preload = Math.min(2000, o.concurrency * 16);
  await Promise.all(
    Array.from({ length: o.concurrency }, async (_, w) => {
      for (let i = w; i < preload; i += o.concurrency) await upload(false);
    }),
  );
  const preloaded = pool.size;

  const weights = o.mix.upload + o.mix.retrieve + o.mix.delete;
  const started = performance.now();
  const deadline = started + o.durationMs;
  let issued = 0;

  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && issued < o.maxOps) {
      issued++;
      const pick = Math.random() * weights;
      const target = pick < o.mix.upload ? undefined : pool.take();
      if (!target) {
        await upload(true);
      } else if (pick < o.mix.upload + o.mix.retrieve) {
        const t0 = performance.now();
        const r = await client.retrieve(target.key, target);
        if (r.ok) {
          stats.retrieve.ok(performance.now() - t0);
          pool.put(target);
        } else {
          stats.retrieve.fail(r.reason!);
          if (r.reason === "checksum mismatch" || r.reason === "size mismatch") verifyFailures++;
          // keep it: a transient error says nothing about what the key holds
          if (r.status !== 200) pool.put(target);
        }
      } else {
        const t0 = performance.now();
        const r = await client.delete(target.key);
        r.ok ? stats.delete.ok(performance.now() - t0) : stats.delete.fail(r.reason!);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const elapsedMs = performance.now() - started;

  const operations = {
    upload: stats.upload.summary(elapsedMs),
    retrieve: stats.retrieve.summary(elapsedMs),
    delete: stats.delete.summary(elapsedMs),
  };
  const all = Object.values(operations);
  const attempts = all.reduce((a, s) => a + s.attempts, 0);
  const succeeded = all.reduce((a, s) => a + s.succeeded, 0);
  return {
    elapsedMs: round(elapsedMs),
    preloaded,
    operations,
    total: {
      attempts,
      succeeded,
      opsPerSec: round(attempts / (elapsedMs / 1000), 1),
      okPerSec: round(succeeded / (elapsedMs / 1000), 1),
      successRate: attempts ? round(succeeded / attempts, 5) : 1,
    },
    verifyFailures,
    liveKeys: pool.keys(),
  };
}

/** Deletes the keys a run left behind, within a time limit; returns how many went. */
export async function deleteKeys(client: ObjectClient, keys: string[], concurrency: number, timeLimitMs: number): Promise<number> {
  const deadline = Date.now() + timeLimitMs;
  let next = 0;
  let deleted = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length && Date.now() < deadline) {
        if ((await client.delete(keys[next++])).ok) deleted++;
      }
    }),
  );
  return deleted;
}
