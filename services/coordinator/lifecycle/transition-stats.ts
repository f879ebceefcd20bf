import { TransitionMetrics } from "./transition-metrics";

/** Lateness is counted in buckets this wide up to FINE_MS, then in whole seconds up to MAX_MS. */
const FINE_STEP_MS = 10;
const FINE_MS = 5000;
const COARSE_STEP_MS = 1000;
const MAX_MS = 600_000;
const FINE_BUCKETS = FINE_MS / FINE_STEP_MS;
const BUCKETS = FINE_BUCKETS + (MAX_MS - FINE_MS) / COARSE_STEP_MS + 1;

/** What /status shows of one transition kind the due-row poller runs. */
export interface TransitionView {
  kind: string;
  /** Versions this coordinator moved since it started. */
  moved: number;
  /** Attempts that threw (the version is retried later, with backoff). */
  failed: number;
  /** Versions waiting out a backoff after a failure. */
  backingOff: number;
  inFlight: number;
  /** Attempts that ended without a move, by the job's answer ("not hot", "demotion lost to a read or delete"…). */
  notMoved: Record<string, number>;
  /** How long after its due time each move committed, in ms (bucketed: 10 ms steps up to 5 s). */
  latenessMs: { p50: number | null; p99: number | null; max: number | null };
}

/**
 * Counts and a lateness histogram for one transition kind: fixed memory whatever the rate (one
 * Uint32Array), so it can run for the life of the process. Figures are since start-up.
 */
export class TransitionStats {
  moved = 0;
  failed = 0;
  /** Answers are a handful of fixed strings per job: the map stays small. */
  private readonly notMoved = new Map<string, number>();
  private readonly buckets = new Uint32Array(BUCKETS);
  private maxMs = 0;

  private readonly metrics: TransitionMetrics;

  constructor(readonly kind: string) {
    this.metrics = new TransitionMetrics(kind);
  }

  recordMoved(latenessMs: number): void {
    this.metrics.recordMoved(latenessMs);
    const ms = Math.max(0, latenessMs);
    this.moved++;
    this.maxMs = Math.max(this.maxMs, ms);
    const i =
      ms < FINE_MS ? Math.floor(ms / FINE_STEP_MS) : Math.min(BUCKETS - 1, FINE_BUCKETS + Math.floor((ms - FINE_MS) / COARSE_STEP_MS));
    this.buckets[i]++;
  }

  recordNotMoved(outcome: string): void {
    this.metrics.recordNotMoved();
    this.notMoved.set(outcome, (this.notMoved.get(outcome) ?? 0) + 1);
  }

  recordFailed(): void {
    this.metrics.recordFailed();
    this.failed++;
  }

  /** The upper edge of the bucket holding the q-quantile (so never an understatement). */
  quantile(q: number): number | null {
    if (this.moved === 0) return null;
    const rank = Math.ceil(q * this.moved);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.buckets[i];
      if (seen >= rank) {
        const edge = i < FINE_BUCKETS ? (i + 1) * FINE_STEP_MS : FINE_MS + (i - FINE_BUCKETS + 1) * COARSE_STEP_MS;
        return Math.min(edge, this.maxMs);
      }
    }
    return this.maxMs;
  }

  view(backingOff: number, inFlight: number): TransitionView {
    return {
      kind: this.kind,
      moved: this.moved,
      failed: this.failed,
      backingOff,
      inFlight,
      notMoved: Object.fromEntries(this.notMoved),
      latenessMs: { p50: this.quantile(0.5), p99: this.quantile(0.99), max: this.moved ? Math.round(this.maxMs) : null },
    };
  }
}
