/**
 * The bytes every large upload of one coordinator may keep for a replacement replica, together
 * (replica-writer.ts REPLAY_MAX_BYTES is one upload's share). Unbounded, each upload of up to 8 MiB
 * kept all of its chunks while it ran: aws cli's ten 8 MiB parts at once held ~80 MiB, and the busy
 * worker stood at 260-310 MiB after the bench's multipart row, where glibc kept it for the rest of the
 * run (2026-12-06). An upload that finds the budget spent keeps nothing more: it lets go of what it
 * kept, and a replica that fails is then only dropped (the write quorum decides, as past 8 MiB).
 */
export class ReplayBudget {
  private left: number;

  constructor(readonly bytes: number) {
    this.left = bytes;
  }

  /** Reserves `n` bytes; false (and nothing reserved) when that would go over the budget. */
  take(n: number): boolean {
    if (n > this.left) return false;
    this.left -= n;
    return true;
  }

  give(n: number): void {
    this.left = Math.min(this.bytes, this.left + n);
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.bytes - this.left;
  }
}
