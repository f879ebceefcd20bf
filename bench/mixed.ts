import { performance } from "node:perf_hooks";
import type { Mix } from "./args";
import type { ObjectClient } from "./client";
import { sha256, smallBody } from "./payload";
import { OpStats, round, type OpSummary } from "./stats";

// The mixed small-object workload: `concurrency` loops, each picking upload, retrieve or delete by
// weight. Keys are either fresh (every upload a new key: the store rarely replaces anything) or a
// fixed key set seeded first (`FixedKeySet`): an upload picks any idle key of the set, so most
// uploads overwrite a live object, as S3 users' workloads do. Either way a key is used by one
// operation at a time, so every retrieve knows exactly what it must get back.

export interface MixedOptions {
  concurrency: number;
  size: number;
  durationMs: number;
  maxOps: number;
  mix: Mix;
  /** Fresh keys are `<keyPrefix>/<n>`; unused with a fixed key set. */
  keyPrefix: string;
  /** Upload to, read and delete only these keys (from seedKeySet); its state carries over calls. */
  keySet?: FixedKeySet;
}

export interface MixedResult {
  elapsedMs: number;
  /** Objects stored before the measured run (preloaded fresh keys, or the fixed set's live keys). */
  preloaded: number;
  /** "fresh" keys, or a fixed set of `keySetSize` keys. */
  keys: "fresh" | "fixed";
  keySetSize?: number;
  /** Keys of the fixed set given up so far: an upload, delete or read failed, so what they hold is unknown. */
  droppedKeys?: number;
  /** Successful uploads that replaced a live object (the store's overwrite path). */
  overwrites: number;
  operations: { upload: OpSummary; retrieve: OpSummary; delete: OpSummary };
  total: {
    attempts: number;
    succeeded: number;
    opsPerSec: number;
    okPerSec: number;
    successRate: number;
    /** Over every successful operation, whatever its kind. */
    p50Ms: number | null;
    p99Ms: number | null;
  };
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

/** Idle items; taking one at random makes it busy until it is put back. */
class Pool<T> {
  private readonly idle: T[] = [];

  get size(): number {
    return this.idle.length;
  }

  put(s: T): void {
    this.idle.push(s);
  }

  take(): T | undefined {
    if (!this.idle.length) return undefined;
    const i = Math.floor(Math.random() * this.idle.length);
    const s = this.idle[i];
    this.idle[i] = this.idle[this.idle.length - 1];
    this.idle.pop();
    return s;
  }

  items(): readonly T[] {
    return this.idle;
  }
}

/**
 * A fixed set of keys and what each holds: idle live keys, idle absent keys (deleted, or never
 * stored); a key whose upload or delete failed is dropped, since it may hold either version.
 */
export class FixedKeySet {
  readonly live = new Pool<Stored>();
  readonly absent = new Pool<string>();
  dropped = 0;
  /** Why the first seed upload that failed did (a bench that cannot seed says why). */
  firstFailure?: string;

  constructor(readonly size: number) {}

  /** An idle key to upload to, live or absent, each idle key equally likely. */
  takeForUpload(): { key: string; was?: Stored } | undefined {
    const l = this.live.size;
    const a = this.absent.size;
    if (l + a === 0) return undefined;
    if (Math.random() * (l + a) < l) {
      const was = this.live.take()!;
      return { key: was.key, was };
    }
    return { key: this.absent.take()! };
  }
}

/** Uploads every key of a fixed set once (not measured), `concurrency` at a time. */
export async function seedKeySet(
  client: ObjectClient,
  prefix: string,
  keys: number,
  size: number,
  concurrency: number,
): Promise<FixedKeySet> {
  const set = new FixedKeySet(keys);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys) {
        const n = next++;
        const key = `${prefix}/${n}`;
        const body = smallBody(size, n);
        const r = await client.upload(key, body, body.length);
        if (r.ok) set.live.put({ key, sha256: sha256(body), size: body.length });
        else {
          set.dropped++;
          set.firstFailure ??= r.reason ?? `http ${r.status}`;
        }
      }
    }),
  );
  return set;
}

export async function runMixed(client: ObjectClient, o: MixedOptions): Promise<MixedResult> {
  const fresh = new Pool<Stored>();
  const live = o.keySet?.live ?? fresh;
  const stats = { upload: new OpStats(), retrieve: new OpStats(), delete: new OpStats() };
  const all = new OpStats();
  // Distinct stamps across calls on one key set (warm-up then measured run): bodies never repeat.
  let seq = o.keySet ? o.keySet.size + Math.floor(Math.random() * 1e9) : 0;
  let verifyFailures = 0;
  let overwrites = 0;

  /** False when the fixed set has no idle key left (every one dropped or busy): the worker stops. */
  const upload = async (record: boolean): Promise<boolean> => {
    const n = seq++;
    const target = o.keySet ? o.keySet.takeForUpload() : { key: `${o.keyPrefix}/${n}` };
    if (!target) return false;
    const body = smallBody(o.size, n);
    const digest = sha256(body);
    const t0 = performance.now();
    const r = await client.upload(target.key, body, body.length);
    if (record) {
      if (r.ok) {
        const ms = performance.now() - t0;
        stats.upload.ok(ms);
        all.ok(ms);
        if ("was" in target && target.was) overwrites++;
      } else stats.upload.fail(r.reason!);
    }
    // A failed upload may or may not have landed: drop the key rather than guess what it holds.
    if (r.ok) live.put({ key: target.key, sha256: digest, size: body.length });
    else if (o.keySet) o.keySet.dropped++;
    return true;
  };

  // Fresh keys: something to retrieve and delete from the first second on (not measured).
  if (!o.keySet) {
    const preload = Math.min(2000, o.concurrency * 16);
    await Promise.all(
      Array.from({ length: o.concurrency }, async (_, w) => {
        for (let i = w; i < preload; i += o.concurrency) await upload(false);
      }),
    );
  }
  const preloaded = live.size;

  const weights = o.mix.upload + o.mix.retrieve + o.mix.delete;
  const started = performance.now();
  const deadline = started + o.durationMs;
  let issued = 0;

  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && issued < o.maxOps) {
      issued++;
      const pick = Math.random() * weights;
      const target = pick < o.mix.upload ? undefined : live.take();
      if (!target) {
        if (!(await upload(true))) return;
      } else if (pick < o.mix.upload + o.mix.retrieve) {
        const t0 = performance.now();
        const r = await client.retrieve(target.key, target);
        if (r.ok) {
          const ms = performance.now() - t0;
          stats.retrieve.ok(ms);
          all.ok(ms);
          live.put(target);
        } else {
          stats.retrieve.fail(r.reason!);
          if (r.reason === "checksum mismatch" || r.reason === "size mismatch") verifyFailures++;
          // keep it: a transient error says nothing about what the key holds
          if (r.status !== 200) live.put(target);
          else if (o.keySet) o.keySet.dropped++;
        }
      } else {
        const t0 = performance.now();
        const r = await client.delete(target.key);
        if (r.ok) {
          const ms = performance.now() - t0;
          stats.delete.ok(ms);
          all.ok(ms);
          o.keySet?.absent.put(target.key);
        } else {
          stats.delete.fail(r.reason!);
          if (o.keySet) o.keySet.dropped++;
        }
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
  const kinds = Object.values(operations);
  const attempts = kinds.reduce((a, s) => a + s.attempts, 0);
  const succeeded = kinds.reduce((a, s) => a + s.succeeded, 0);
  const overall = all.summary(elapsedMs);
  return {
    elapsedMs: round(elapsedMs),
    preloaded,
    keys: o.keySet ? "fixed" : "fresh",
    ...(o.keySet ? { keySetSize: o.keySet.size, droppedKeys: o.keySet.dropped } : {}),
    overwrites,
    operations,
    total: {
      attempts,
      succeeded,
      opsPerSec: round(attempts / (elapsedMs / 1000), 1),
      okPerSec: round(succeeded / (elapsedMs / 1000), 1),
      successRate: attempts ? round(succeeded / attempts, 5) : 1,
      p50Ms: overall.p50Ms,
      p99Ms: overall.p99Ms,
    },
    verifyFailures,
    liveKeys: live.items().map((s) => s.key),
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
