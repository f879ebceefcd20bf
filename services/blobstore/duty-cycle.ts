import { performance } from "node:perf_hooks";

/** Owed rest below this is carried to the next step rather than slept (a timer costs ~1 ms at best). */
const MIN_REST_MS = 5;

export interface PaceClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PaceClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Keeps background work to a share of the wall time: step() between its pieces rests in proportion
 * to the time since the last step, so work / (work + rest) stays at `share`. Wall time, not CPU:
 * on a machine short of cores a piece takes longer and the rest grows with it. `hurry` (checked at
 * each step) ends the resting: a full disk, a store closing.
 */
export class DutyCycle {
  private since: number;
  private owed = 0;

  constructor(
    private readonly share: number,
    private readonly hurry: () => boolean = () => false,
    private readonly clock: PaceClock = realClock,
  ) {
    if (!(share > 0 && share <= 1)) throw new RangeError(`duty cycle share must be in (0, 1] (got ${share})`);
    this.since = clock.now();
  }

  async step(): Promise<void> {
    this.owed += ((this.clock.now() - this.since) * (1 - this.share)) / this.share;
    if (this.hurry()) this.owed = 0;
    else if (this.owed >= MIN_REST_MS) {
      await this.clock.sleep(this.owed);
      this.owed = 0;
    }
    this.since = this.clock.now();
  }
}
