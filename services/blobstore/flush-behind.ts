import type { FileHandle } from "node:fs/promises";

/**
 * A large write starts a datasync of what it wrote every `stepBytes`, without waiting for it, so the
 * commit's fsync finds little left to flush. Through the page cache that is the dirty pages (the whole
 * blob at the end was 60-150 ms of a ~550 ms 64 MiB upload, 2026-12-02). With O_DIRECT the bytes are
 * on the device, but a disk with a volatile write cache (this VM's virtio disk: "write back") still
 * has them to flush at the commit's fsync: up to 83-97 ms for a 64 MiB blob, 0-12 ms with a datasync
 * every 8 MiB while it was written; a 64 MiB upload's wait for its nodes after the last byte 28-105 ->
 * 16-33 ms (npm start's cluster, two alternated restarts each, 2026-12-06). The bench's rows, two
 * alternated pairs: 64 MiB up 147.7-175.9 -> 187.6-192.4 MB/s, two at once 198.6-235.9 -> 250.0-258.9,
 * 1 GiB 233.2-246.8 -> 263.0-279.1. The commit still syncs everything before the rename; a datasync
 * that failed fails it.
 */
export class FlushBehind {
  private flushing?: Promise<unknown>;
  private flushedTo = 0;
  private failure?: unknown;

  constructor(
    private readonly fd: FileHandle,
    private readonly stepBytes: number,
  ) {}

  /** The file holds `end` bytes written: a datasync starts if a step's worth came since the last and none runs. */
  wrote(end: number): void {
    if (end - this.flushedTo < this.stepBytes || this.flushing) return;
    this.flushedTo = end;
    this.flushing = this.fd.datasync().then(
      () => (this.flushing = undefined),
      (e: unknown) => {
        this.flushing = undefined;
        this.failure ??= e;
      },
    );
  }

  /** Waits for the datasync in flight; throws the first that failed. */
  async settle(): Promise<void> {
    await this.flushing;
    if (this.failure) throw this.failure;
  }

  /** Waits for the datasync in flight, whatever it did (an abort's cleanup). */
  async idle(): Promise<void> {
    await this.flushing;
  }
}
