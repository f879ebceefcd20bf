import { ErrorCode, MiniS3Error } from "../../common/errors";
import { Semaphore } from "../../common/semaphore";

/** MINIS3_LARGE_UPLOADS and MINIS3_LARGE_UPLOAD_WAIT. */
export interface LargeUploadLimits {
  /** Large uploads streaming at once. */
  limit: number;
  /** How long one waits for its turn before it is refused (SlowDown). */
  waitMs: number;
  /**
   * An upload whose client sent less than this in a whole `checkEveryMs` while the engine waited for
   * its bytes gives up its turn for good (default SLOW_CLIENT_BYTES_PER_SECOND a second; 0: never).
   */
  slowBytes?: number;
  checkEveryMs?: number;
}

/**
 * 1 MiB/s over 3 s: a client that slow keeps an upload's pipeline nearly empty (a chunk filling, the one
 * before it on its way), where the ~12 MiB an upload holds is what a fast one keeps in flight. 4 MiB/s
 * over 1 s was too quick: in a burst of 32 uploads at once on two cores, turns held by fast clients the
 * machine starved for a moment were given up, and the busy worker peaked at 258-271 MiB against 244-252.
 */
export const SLOW_CLIENT_BYTES_PER_SECOND = 1024 * 1024;
const SLOW_CLIENT_CHECK_MS = 3000;

/**
 * How many large uploads one coordinator process streams at once. Each holds memory while it streams
 * (its chunks, the digest thread's slots, what node:http reads for it: ~12 MiB measured), so without a
 * bound the process grew with the uploads sent to it: 32 of 64 MiB at once took a fresh worker from
 * ~110 to 317-396 MiB, and 64 of 32 MiB took one at 295 to 506 (bench/README.md "Large uploads at
 * once, bounded"). Past the limit an upload waits in arrival order before any byte of it past the head
 * is read, its bytes left in the client's socket (TCP slows the client down); one that waits longer
 * than `waitMs` is refused with SlowDown (503; S3 clients back off and send it again), nothing stored.
 * Two cores are busy with a few uploads already: the 32 were all in 7-25 % sooner with a limit of 4-8
 * than without one (the same section). A turn held by a client that sends slowly (UploadTurn) is given
 * up, so that a few slow clients cannot keep every other large upload waiting.
 */
export class LargeUploadGate {
  private readonly slots: Semaphore;

  constructor(readonly limits: LargeUploadLimits) {
    this.slots = new Semaphore(limits.limit);
  }

  /** Uploads streaming now. */
  get streaming(): number {
    return this.slots.inUse;
  }

  /** Uploads waiting for their turn. */
  get waiting(): number {
    return this.slots.queued;
  }

  /** Waits for the upload's turn; the caller must leave() it once the upload has ended. */
  async enter(): Promise<UploadTurn> {
    if (!(await this.slots.acquireWithin(this.limits.waitMs))) {
      throw new MiniS3Error(
        ErrorCode.SlowDown,
        `this coordinator is streaming ${this.limits.limit} large uploads (MINIS3_LARGE_UPLOADS) and this one waited ${this.limits.waitMs} ms for its turn: send it again later`,
      );
    }
    const everyMs = this.limits.checkEveryMs ?? SLOW_CLIENT_CHECK_MS;
    const slowBytes = this.limits.slowBytes ?? (SLOW_CLIENT_BYTES_PER_SECOND * everyMs) / 1000;
    return new UploadTurn(() => this.slots.release(), slowBytes, everyMs);
  }
}

/**
 * One upload's turn. The engine pulls the client's bytes through `pull`; at each check, an upload that
 * was waiting for its client then, and got fewer than `slowBytes` since the check before, gives its
 * turn to the next upload and streams on without one (a slow client's pipeline holds little).
 */
export class UploadTurn {
  private left = false;
  private pulling = false;
  private bytes = 0;
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly release: () => void,
    private readonly slowBytes: number,
    everyMs: number,
  ) {
    if (slowBytes > 0) {
      this.timer = setInterval(() => this.check(), everyMs);
      this.timer.unref();
    }
  }

  /** Whether the upload still holds its turn. */
  get holding(): boolean {
    return !this.left;
  }

  /** The client's next bytes, counted. */
  async pull(next: Promise<Buffer | null>): Promise<Buffer | null> {
    this.pulling = true;
    try {
      const piece = await next;
      if (piece) this.bytes += piece.length;
      return piece;
    } finally {
      this.pulling = false;
    }
  }

  /** Gives the turn up (once; later calls do nothing). */
  leave(): void {
    if (this.left) return;
    this.left = true;
    if (this.timer) clearInterval(this.timer);
    this.release();
  }

  private check(): void {
    const bytes = this.bytes;
    this.bytes = 0;
    if (this.pulling && bytes < this.slowBytes) this.leave();
  }
}
