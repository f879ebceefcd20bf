import { performance } from "node:perf_hooks";
import { freeChunk } from "../../rpc/wire/blob-stream-codec";

/**
 * Whole upload chunks (UPLOAD_CHUNK_BYTES, each made by allocChunk) that finished uploads handed
 * back, for the next uploads' joins. An upload keeps its first 8 MiB of chunks for a replacement
 * replica (replica-writer.ts REPLAY_MAX_BYTES), so it cannot refill them while it runs: without this,
 * every upload of up to ~8 MiB (an S3 client's multipart parts, most of all) filled fresh 1 MiB
 * Buffers, external memory that started V8's mark-compacts about every 24 MiB. aws cli `cp` of
 * 256 MiB in 8 MiB parts cost the busy coordinator 2.55 s of CPU, its GC helper threads ~0.7 s of
 * it, where one 256 MiB PutObject cost 1.2 s with none (perf, 2026-12-06).
 *
 * Bounded twice: at most `max` chunks are kept (what a burst of uploads at once takes back), and
 * past `keep` only while uploads come: a pool that nobody took from for `idleMs` lets go of all but
 * `keep`. What it lets go of, or has no room for, is freed at once (freeChunk: each a mapping of its
 * own, MALLOC_MMAP_THRESHOLD_, given back to the system then): left to V8, a burst's chunks stayed
 * until a collection came, and the busy worker went into the bench's 1 GiB pass at ~250 MiB RSS
 * after the multipart row (08:30, 2026-12-06), against ~215 MiB without that row before it.
 *
 * Why the burst size: ten 8 MiB parts at once (aws cli's default) hold ~38 chunks
 * (three keep their 8 for a replacement, the replay budget; the others alternate two), and with
 * only 10 kept the rest were fresh each time: per 64 MiB uploaded that way the busy worker spent
 * ~600 ms of CPU against ~300 for one PutObject, V8's concurrent marking and the first touch of
 * fresh pages (page faults under the joins' copies) most of the difference (perf, 2026-12-06 07:05).
 */
export class UploadChunkPool {
  private readonly free: Buffer[] = [];
  private lastTake = -Infinity;
  private trimTimer?: NodeJS.Timeout;

  constructor(
    private readonly chunkBytes: number,
    /** Chunks kept however long the pool is idle. */
    private readonly keep: number,
    /** Chunks kept at most, while uploads come. */
    private readonly max: number = keep,
    private readonly idleMs = 5000,
  ) {}

  /** Chunks held now. */
  get size(): number {
    return this.free.length;
  }

  /** A chunk to join into, or undefined (the caller allocates one). */
  take(): Buffer | undefined {
    this.lastTake = performance.now();
    return this.free.pop();
  }

  /** Chunks no part of the process will read or write again (their upload has settled). */
  give(chunks: Iterable<Buffer>): void {
    for (const c of chunks) {
      if (this.free.length < this.max && c.length === this.chunkBytes) this.free.push(c);
      else freeChunk(c);
    }
    if (this.free.length > this.keep) this.trimWhenIdle();
  }

  private trimWhenIdle(): void {
    if (this.trimTimer) return;
    const wait = Math.max(0, this.lastTake + this.idleMs - performance.now());
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined;
      if (performance.now() - this.lastTake < this.idleMs) return this.trimWhenIdle(); // taken from meanwhile
      for (const c of this.free.splice(this.keep)) freeChunk(c);
    }, wait);
    this.trimTimer.unref();
  }
}
