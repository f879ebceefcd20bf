import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { MiniS3Client } from "./client";
import { largeBodyChunks } from "./payload";
import { RssSampler, type WatchedProcess } from "./procs";
import { round } from "./stats";

// One large object, streamed up and streamed back (verified), timed, while every process's RSS is
// sampled: what the large-object path costs in throughput and in memory.

export interface TransferResult {
  ok: boolean;
  reason?: string;
  seconds: number;
  /** Decimal megabytes (10^6 bytes) per second. */
  mbPerSec: number;
  mibPerSec: number;
}

export interface LargeResult {
  bytes: number;
  upload: TransferResult;
  retrieve: TransferResult & { verified: boolean };
  deleted: boolean;
  /** Max RSS per process during the pass, in bytes (and MiB for reading). */
  maxRssBytes: Record<string, number>;
  maxRssMiB: Record<string, number>;
  /** RSS just before the pass, to tell the object's cost from the baseline. */
  rssBeforeMiB: Record<string, number>;
  rssSamples: number;
}

function transfer(ok: boolean, bytes: number, ms: number, reason?: string): TransferResult {
  const s = ms / 1000;
  return { ok, ...(reason ? { reason } : {}), seconds: round(s), mbPerSec: ok ? round(bytes / 1e6 / s, 1) : 0, mibPerSec: ok ? round(bytes / 2 ** 20 / s, 1) : 0 };
}

const toMiB = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v / 2 ** 20, 1)]));

export async function runLarge(client: MiniS3Client, key: string, bytes: number, procs: () => WatchedProcess[]): Promise<LargeResult> {
  const before = new RssSampler(procs);
  before.start();
  const rssBefore = before.stop();
  const sampler = new RssSampler(procs, 100);
  sampler.start();
  try {
    const seed = Math.floor(Math.random() * 2 ** 31);
    // The expected digest, computed in a pass of its own so the upload's timing is not charged for it.
    const expected = createHash("sha256");
    for (const c of largeBodyChunks(bytes, seed)) expected.update(c);
    const digest = expected.digest("hex");

    let t0 = performance.now();
    const up = await client.upload(key, largeBodyChunks(bytes, seed), bytes);
    const upload = transfer(up.ok, bytes, performance.now() - t0, up.reason);

    t0 = performance.now();
    const down = up.ok ? await client.retrieve(key, { sha256: digest, size: bytes }) : { ok: false, reason: "upload failed", bytes: 0 };
    const retrieve = { ...transfer(down.ok, bytes, performance.now() - t0, down.reason), verified: down.ok };

    const deleted = up.ok ? (await client.delete(key)).ok : false;
    const max = sampler.stop();
    return { bytes, upload, retrieve, deleted, maxRssBytes: max, maxRssMiB: toMiB(max), rssBeforeMiB: toMiB(rssBefore), rssSamples: sampler.samples };
  } finally {
    sampler.stop();
  }
}
