import { ErrorCode, MiniS3Error } from "../../common/errors";
import { Semaphore } from "../../common/semaphore";

/** MINIS3_LARGE_UPLOADS and MINIS3_LARGE_UPLOAD_WAIT. */
export interface LargeUploadLimits {
  /** Large uploads streaming at once. */
  limit: number;
  /** How long one waits for its turn before it is refused (SlowDown). */
  waitMs: number;
}

/**
 * How many large uploads one coordinator process streams at once. Each holds memory while it streams
 * (its chunks, the digest thread's slots, what node:http reads for it: ~12 MiB measured), so without a
 * bound the process grew with the uploads sent to it: 32 of 64 MiB at once took a fresh worker from
 * ~110 to 317-396 MiB, and 64 of 32 MiB took one at 295 to 506 (bench/README.md "Large uploads at
 * once, bounded"). Past the limit an upload waits in arrival order before any byte of it past the head
 * is read, its bytes left in the client's socket (TCP slows the client down); one that waits longer
 * than `waitMs` is refused with SlowDown (503; S3 clients back off and send it again), nothing stored.
 * Two cores are busy with a few uploads already: the 32 were all in 7-25 % sooner with a limit of 4-8
 * than without one (the same section).
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

  /** Waits for the upload's turn; the caller must call the function it gives back once the upload has ended. */
  async enter(): Promise<() => void> {
    if (!this.slots.tryAcquire()) {
      try {
        await this.slots.acquire(AbortSignal.timeout(this.limits.waitMs));
      } catch {
        throw new MiniS3Error(
          ErrorCode.SlowDown,
          `this coordinator is streaming ${this.limits.limit} large uploads (MINIS3_LARGE_UPLOADS) and this one waited ${this.limits.waitMs} ms for its turn: send it again later`,
        );
      }
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.slots.release();
    };
  }
}
