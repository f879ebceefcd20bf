import type { NodeStats } from "../membership/node-record";

/**
 * Blob count and bytes of this node, kept in memory and adjusted on every commit and delete, so
 * the heartbeat (every second) does not scan the table. A full recount from MySQL every
 * refreshMs corrects any drift (a change racing a recount is off by one until the next).
 */
export class UsageCounter {
  private blobCount = 0;
  private usedBytes = 0;
  private countedAt = 0;
  private recounting: Promise<void> | undefined;

  private freeBytes: number | null = null;

  constructor(
    private readonly count: () => Promise<{ blobCount: number; usedBytes: number }>,
    private readonly refreshMs: number,
    /** The database's free space (database-free-space.ts), read with each recount. */
    private readonly free: () => Promise<number | null> = async () => null,
  ) {}

  add(blobs: number, bytes: number): void {
    this.blobCount = Math.max(0, this.blobCount + blobs);
    this.usedBytes = Math.max(0, this.usedBytes + bytes);
  }

  recount(): Promise<void> {
    this.recounting ??= Promise.all([this.count(), this.free().catch(() => null)])
      .then(([c, free]) => {
        this.blobCount = c.blobCount;
        this.usedBytes = c.usedBytes;
        this.freeBytes = free;
        this.countedAt = Date.now();
      })
      .finally(() => {
        this.recounting = undefined;
      });
    return this.recounting;
  }

  async current(): Promise<NodeStats> {
    if (Date.now() - this.countedAt >= this.refreshMs) await this.recount();
    return { blobCount: this.blobCount, usedBytes: this.usedBytes, freeBytes: this.freeBytes };
  }
}
