/**
 * Whole upload chunks (UPLOAD_CHUNK_BYTES, each made by allocChunk) that finished uploads handed
 * back, for the next uploads' joins. An upload keeps its first 8 MiB of chunks for a replacement
 * replica (replica-writer.ts REPLAY_MAX_BYTES), so it cannot refill them while it runs: without this,
 * every upload of up to ~8 MiB (an S3 client's multipart parts, most of all) filled fresh 1 MiB
 * Buffers, external memory that started V8's mark-compacts about every 24 MiB. aws cli `cp` of
 * 256 MiB in 8 MiB parts cost the busy coordinator 2.55 s of CPU, its GC helper threads ~0.7 s of
 * it, where one 256 MiB PutObject cost 1.2 s with none (perf, 2026-12-06).
 *
 * Bounded: at most `max` chunks are kept (what a few uploads at once take back); the rest go to V8.
 */
export class UploadChunkPool {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly chunkBytes: number,
    private readonly max: number,
  ) {}

  /** A chunk to join into, or undefined (the caller allocates one). */
  take(): Buffer | undefined {
    return this.free.pop();
  }

  /** Chunks no part of the process will read or write again (their upload has settled). */
  give(chunks: Iterable<Buffer>): void {
    for (const c of chunks) {
      if (this.free.length >= this.max) return;
      if (c.length === this.chunkBytes) this.free.push(c);
    }
  }
}
