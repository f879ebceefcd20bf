import { Pacer, type Sleep } from "../scrub/pacer";

/**
 * What a copy costs at least, however small: a read, a write with its fsync and a VerifyBlob cost
 * about what moving 64 KiB does (the scrubber's reasoning), so small objects are paced per copy.
 */
export const MIN_COST_BYTES = 64 * 1024;
/** How far back the measured copy rate looks. */
const WINDOW_MS = 10_000;

/**
 * MINIS3_REPAIR_RATE for the copies repair and rehome (handoff, rebalance) make between storage
 * nodes: one Pacer per coordinator, each taking its share of the cluster-wide rate (a copy reserves
 * its bytes times the number of live coordinators), so foreground traffic keeps its disks and links
 * however many coordinators repair at once. Rate 0 is unthrottled. It also measures what was
 * copied in the last 10 s, for /status.
 */
export class RepairThrottle {
  private readonly pacer?: Pacer;
  /** (time, bytes) of recent copies, oldest first. */
  private readonly recent: { at: number; bytes: number }[] = [];
  private total = 0;

  constructor(
    readonly bytesPerSecond: number,
    /** How many coordinators share the rate (this one included). */
    private readonly coordinators: () => number,
    private readonly now: () => number = () => performance.now(),
    wait?: Sleep,
  ) {
    if (bytesPerSecond > 0) this.pacer = new Pacer(bytesPerSecond, now, wait);
  }

  /** Waits until this coordinator may make `copies` copies of a blob of `size` bytes. */
  async take(size: number, copies: number, signal?: AbortSignal): Promise<void> {
    await this.pacer?.take(Math.max(size, MIN_COST_BYTES) * copies * Math.max(1, this.coordinators()), signal);
  }

  /** Bytes copied (counted once the copy is made). */
  copied(bytes: number): void {
    this.total += bytes;
    this.recent.push({ at: this.now(), bytes });
    this.trim();
  }

  /** Bytes per second this coordinator copied over the last 10 s, and since start-up. */
  measured(): { bytesPerSecond: number; totalBytes: number } {
    this.trim();
    const bytes = this.recent.reduce((n, r) => n + r.bytes, 0);
    return { bytesPerSecond: Math.round((bytes * 1000) / WINDOW_MS), totalBytes: this.total };
  }

  private trim(): void {
    const from = this.now() - WINDOW_MS;
    while (this.recent.length && this.recent[0].at < from) this.recent.shift();
  }
}
