import type { Logger } from "../../common/logger";
import type { Catalogue } from "./catalogue";

/**
 * Last-access times of retrieved versions, kept in memory and written to the catalogue in one
 * statement per interval: a read costs a Map.set, not a MySQL write.
 */
export class AccessTracker {
  private pending = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly catalogue: Catalogue,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  touch(versionId: string, atMs = Date.now()): void {
    this.pending.set(versionId, atMs);
  }

  /** An access not yet written (the lifecycle checks it before demoting). */
  lastSeen(versionId: string): number | undefined {
    return this.pending.get(versionId);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.catalogue.recordAccess(batch);
    } catch (e) {
      // Put them back (newer touches win) so the next flush retries.
      for (const [id, t] of batch) if (!this.pending.has(id)) this.pending.set(id, t);
      this.log.warn({ err: e, count: batch.size }, "could not record access times; will retry");
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
