import { setTimeout as sleep } from "node:timers/promises";

/** Milliseconds on a clock that wall-clock steps do not move. */
export type Clock = () => number;
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * Holds reads to `bytesPerSecond` on average: each take() reserves its bytes' share of time after
 * the previous reservations and waits for its turn. Idle time is not banked (no burst after a
 * pause), so the nodes' disks never see more than the rate for longer than one object's read.
 *
 * With a `quantumMs`, a take waits until the end of the quantum its turn falls in, so the takes
 * whose turns are that close go together (the rate over time is the same): their requests to a node
 * leave in one message instead of one message each, and each message wakes both processes.
 */
export class Pacer {
  private nextAtMs: number;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly now: Clock = () => performance.now(),
    private readonly wait: Sleep = (ms, signal) => sleep(ms, undefined, { signal }),
    private readonly quantumMs = 0,
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError("a pacer needs a rate above 0");
    this.nextAtMs = now();
  }

  /** Waits until `bytes` more may be read; rejects (AbortError) if `signal` aborts meanwhile. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const t = this.now();
    const start = Math.max(t, this.nextAtMs);
    this.nextAtMs = start + (Math.max(0, bytes) * 1000) / this.bytesPerSecond;
    const q = this.quantumMs;
    const wakeAt = q > 0 && start > t ? Math.ceil(start / q) * q : start;
    if (wakeAt > t) await this.wait(wakeAt - t, signal);
  }
}
