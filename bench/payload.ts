import { hash, randomBytes } from "node:crypto";

// Object bodies: every one different (so a mix-up between objects is caught), cheap to make, and for
// large objects produced chunk by chunk so the bench never holds a whole object.

const POOL = randomBytes(4 * 1024 * 1024);

/** A small body: a random slice of the pool with a unique stamp in front. */
export function smallBody(size: number, stamp: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  const start = Math.floor(Math.random() * (POOL.length - size));
  POOL.copy(out, 0, start, start + size);
  const tag = Buffer.from(`${stamp}:`);
  tag.copy(out, 0, 0, Math.min(tag.length, size));
  return out;
}

/** One call (crypto.hash), not a Hash object per body: a small op's share of the bench's CPU. */
export function sha256(buf: Buffer): string {
  return hash("sha256", buf, "hex");
}

export const LARGE_CHUNK = 1024 * 1024;

/**
 * The chunks of a large body of `size` bytes, from a seed: chunk i is the pool slice chosen by
 * (seed, i), so the same seed gives the same bytes and the expected hash can be computed while
 * uploading, and chunks differ from each other (a reordering would fail the hash). Slices are
 * views, not copies: fresh 1 MiB buffers cost page faults that made the bench its own bottleneck.
 */
export function* largeBodyChunks(size: number, seed: number): Generator<Buffer> {
  for (let i = 0, sent = 0; sent < size; i++) {
    const n = Math.min(LARGE_CHUNK, size - sent);
    const start = ((seed * 7919 + i * 104729) % (POOL.length - LARGE_CHUNK)) | 0;
    sent += n;
    yield POOL.subarray(start, start + n);
  }
}
