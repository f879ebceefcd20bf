// Latency and outcome counting for one kind of operation.

export interface OpSummary {
  attempts: number;
  succeeded: number;
  failed: number;
  successRate: number;
  opsPerSec: number;
  /** Successful operations per second. */
  okPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Failure reasons and their counts ("http 503", "checksum mismatch", "ECONNRESET", ...). */
  errors: Record<string, number>;
}

export class OpStats {
  private latencies = new Float64Array(1024);
  private count = 0;
  private failures = 0;
  private readonly errors = new Map<string, number>();

  /** Latency of a successful operation, in milliseconds. */
  ok(ms: number): void {
    if (this.count === this.latencies.length) {
      const bigger = new Float64Array(this.latencies.length * 2);
      bigger.set(this.latencies);
      this.latencies = bigger;
    }
    this.latencies[this.count++] = ms;
  }

  fail(reason: string): void {
    this.failures++;
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
  }

  get attempts(): number {
    return this.count + this.failures;
  }

  summary(elapsedMs: number): OpSummary {
    const sorted = this.latencies.slice(0, this.count).sort();
    const pct = (p: number) => (this.count ? round(sorted[Math.min(this.count - 1, Math.floor(p * this.count))]) : null);
    const secs = elapsedMs / 1000;
    return {
      attempts: this.attempts,
      succeeded: this.count,
      failed: this.failures,
      successRate: this.attempts ? round(this.count / this.attempts, 5) : 1,
      opsPerSec: round(this.attempts / secs, 1),
      okPerSec: round(this.count / secs, 1),
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      maxMs: this.count ? round(sorted[this.count - 1]) : null,
      errors: Object.fromEntries(this.errors),
    };
  }
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
