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
 * past `keep` only the chunks uploads still use: each `windowMs` the pool lets go of the chunks that
 * sat in it through the whole window (its low-water mark), down to `keep`. Idle, that is all but
 * `keep`; after a burst, what the uploads that follow do not take. Trimmed only after a few idle
 * seconds, a burst's 44 chunks stayed while any upload came: the plain bench's 1 GiB pass, straight
 * after the large rows, began with the busy worker at 255.4 MiB and peaked at 256.3, over the
 * 250 MB floor, against 209-214 with s3rver's rows (idle for us) in between (2026-12-07 05:55).
 * What it lets go of, or has no room for, is freed at once (freeChunk: each a mapping of its own,
 * MALLOC_MMAP_THRESHOLD_, given back to the system then): left to V8, a burst's chunks stayed until
 * a collection came, and the busy worker went into that pass at ~250 MiB RSS after the multipart
 * row (08:30, 2026-12-06), against ~215 MiB without that row before it.
 *
 * Why the burst size: ten 8 MiB parts at once (aws cli's default) hold ~38 chunks
 * (three keep their 8 for a replacement, the replay budget; the others alternate two), and with
 * only 10 kept the rest were fresh each time: per 64 MiB uploaded that way the busy worker spent
 * ~600 ms of CPU against ~300 for one PutObject, V8's concurrent marking and the first touch of
 * fresh pages (page faults under the joins' copies) most of the difference (perf, 2026-12-06 07:05).
 */
export class UploadChunkPool {
  private readonly free: Buffer[] = [];
  /** The fewest chunks held since the window began: that many no upload needed through it. */
  private lowWater = 0;
  private trimTimer?: NodeJS.Timeout;

  constructor(
    private readonly chunkBytes: number,
    /** Chunks kept however long the pool is idle. */
    private readonly keep: number,
    /** Chunks kept at most, while uploads come. */
    private readonly max: number = keep,
    private readonly windowMs = 2000,
  ) {}

  /** Chunks held now. */
  get size(): number {
    return this.free.length;
  }

  /** A chunk to join into, or undefined (the caller allocates one). */
  take(): Buffer | undefined {
    const chunk = this.free.pop();
    this.lowWater = Math.min(this.lowWater, this.free.length);
    return chunk;
  }

  /** Chunks no part of the process will read or write again (their upload has settled). */
  give(chunks: Iterable<Buffer>): void {
    for (const c of chunks) {
      if (this.free.length < this.max && c.length === this.chunkBytes) this.free.push(c);
      else freeChunk(c);
    }
    if (this.free.length > this.keep) this.trimUnused();
  }

  /** Starts a window unless one runs; at its end, frees what sat unused through it and goes on while over `keep`. */
  private trimUnused(): void {
    if (this.trimTimer) return;
    this.lowWater = this.free.length;
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined;
      const unused = Math.min(this.lowWater, this.free.length - this.keep);
      // The bottom of the stack: take() pops the top, so these are the ones that sat.
      if (unused > 0) for (const c of this.free.splice(0, unused)) freeChunk(c);
      if (this.free.length > this.keep) this.trimUnused();
    }, this.windowMs);
    this.trimTimer.unref();
  }
}
