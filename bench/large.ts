import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { ObjectClient } from "./client";
import { largeBodyChunks } from "./payload";
import { RssSampler, type WatchedProcess } from "./procs";
import { round } from "./stats";

// Large objects, each streamed up and streamed back (verified), timed, while every process's RSS is
// sampled: what the large-object path costs in throughput and in memory. With `inFlight` above one,
// each pass moves that many objects at once (all up, then all down) and its MB/s is theirs together.
// With several passes the figures are the median pass's (one transfer is at the mercy of a GC or a
// neighbour's burst); every pass's seconds are kept beside them. With `overwrite`, every pass
// uploads to the same names, each upload replacing the object the pass before stored (a user
// re-uploading a big file), and the objects are left for the caller to delete.

export interface TransferResult {
  ok: boolean;
  reason?: string;
  seconds: number;
  /** Decimal megabytes (10^6 bytes) per second. */
  mbPerSec: number;
  mibPerSec: number;
}

export interface LargeResult {
  /** Bytes of each object. */
  bytes: number;
  /** Objects moved at once in each pass; the MB/s figures are of all of them together. */
  inFlight: number;
  passes: number;
  /** The median pass (by seconds) for each direction. */
  upload: TransferResult;
  retrieve: TransferResult & { verified: boolean };
  /** Seconds of every pass, in order. */
  uploadSeconds: number[];
  retrieveSeconds: number[];
  deleted: boolean;
  /** The names the passes stored (what an `overwrite` run leaves for its caller to delete). */
  stored: string[];
  /** Max RSS per process during the pass, in bytes (and MiB for reading). */
  maxRssBytes: Record<string, number>;
  maxRssMiB: Record<string, number>;
  /** RSS just before the pass, to tell the object's cost from the baseline. */
  rssBeforeMiB: Record<string, number>;
  rssSamples: number;
}

function transfer(ok: boolean, bytes: number, ms: number, reason?: string): TransferResult {
  const s = ms / 1000;
  return {
    ok,
    ...(reason ? { reason } : {}),
    seconds: round(s),
    mbPerSec: ok ? round(bytes / 1e6 / s, 1) : 0,
    mibPerSec: ok ? round(bytes / 2 ** 20 / s, 1) : 0,
  };
}

const toMiB = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v / 2 ** 20, 1)]));

export async function runLarge(
  client: ObjectClient,
  key: string,
  bytes: number,
  procs: () => WatchedProcess[],
  passes = 1,
  inFlight = 1,
  overwrite = false,
): Promise<LargeResult> {
  const before = new RssSampler(procs);
  before.start();
  const rssBefore = before.stop();
  const sampler = new RssSampler(procs, 100);
  sampler.start();
  const uploads: TransferResult[] = [];
  const retrieves: (TransferResult & { verified: boolean })[] = [];
  const stored: string[] = [];
  try {
    for (let pass = 0; pass < passes; pass++) {
      const objects = Array.from({ length: inFlight }, (_, i) => {
        const seed = Math.floor(Math.random() * 2 ** 31);
        // The expected digest, computed in a pass of its own so the upload's timing is not charged for it.
        const expected = createHash("sha256");
        for (const c of largeBodyChunks(bytes, seed)) expected.update(c);
        const each = inFlight > 1 ? `-${i + 1}` : "";
        const name = overwrite || (passes === 1 && inFlight === 1) ? `${key}${each}` : `${key}-${pass + 1}${each}`;
        return { seed, name, digest: expected.digest("hex") };
      });

      // All of a pass's objects start together; the pass lasts until the last one is done.
      let t0 = performance.now();
      const ups = await Promise.all(objects.map((o) => client.upload(o.name, largeBodyChunks(bytes, o.seed), bytes)));
      const upFailed = ups.find((u) => !u.ok);
      uploads.push(transfer(!upFailed, bytes * inFlight, performance.now() - t0, upFailed?.reason));
      objects.forEach((o, i) => ups[i].ok && !stored.includes(o.name) && stored.push(o.name));

      t0 = performance.now();
      const downs = upFailed
        ? [{ ok: false, reason: "upload failed", bytes: 0 }]
        : await Promise.all(objects.map((o) => client.retrieve(o.name, { sha256: o.digest, size: bytes })));
      const downFailed = downs.find((d) => !d.ok);
      retrieves.push({ ...transfer(!downFailed, bytes * inFlight, performance.now() - t0, downFailed?.reason), verified: !downFailed });
      if (upFailed || downFailed) break;
    }
    // Deleted only after every pass: a delete moves the bytes to the trash in the background.
    let deleted = stored.length > 0;
    if (overwrite) deleted = false;
    else for (const k of stored) deleted = (await client.delete(k)).ok && deleted;
    const max = sampler.stop();
    return {
      bytes,
      inFlight,
      passes: uploads.length,
      upload: median(uploads),
      retrieve: median(retrieves),
      uploadSeconds: uploads.map((u) => u.seconds),
      retrieveSeconds: retrieves.map((r) => r.seconds),
      deleted,
      stored,
      maxRssBytes: max,
      maxRssMiB: toMiB(max),
      rssBeforeMiB: toMiB(rssBefore),
      rssSamples: sampler.samples,
    };
  } finally {
    sampler.stop();
  }
}

/** The middle pass by time; any failed pass is the result (a failure is never averaged away). */
function median<T extends TransferResult>(results: T[]): T {
  const failed = results.find((r) => !r.ok);
  if (failed) return failed;
  return [...results].sort((a, b) => a.seconds - b.seconds)[Math.floor((results.length - 1) / 2)];
}
