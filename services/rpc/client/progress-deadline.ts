/**
 * A deadline that measures progress, not total time: armed while the caller waits for the node,
 * disarmed as soon as the node moves (a message, room in the buffer, an answer). A slow stream
 * that keeps moving never expires; a stalled one expires `ms` after its last sign of life. Node's
 * timers run on the event loop's monotonic clock, so a wall-clock step moves none of them.
 */
export class ProgressDeadline {
  private timer?: NodeJS.Timeout;
  private fired = false;

  constructor(
    private readonly ms: number,
    /** Called once when it expires: cancels the call, which then fails what waited on it. */
    private readonly onExpire: () => void,
  ) {}

  /** Whether it expired: the call failed because the node made no progress. */
  get expired(): boolean {
    return this.fired;
  }

  arm(): void {
    if (this.fired) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(this.fire, this.ms);
  }

  disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Arms it for as long as `p` takes. */
  async around<T>(p: Promise<T>): Promise<T> {
    this.arm();
    try {
      return await p;
    } finally {
      this.disarm();
    }
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.fired = true;
    this.onExpire();
  };
}
