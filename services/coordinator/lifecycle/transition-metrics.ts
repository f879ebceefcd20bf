// The due-row poller's moves as Prometheus metrics (next to transition-stats.ts, which keeps the
// same figures for /status): each attempt's outcome, and how late each move committed.
import { Counter, Histogram } from "prom-client";
import { registry } from "../../common/metrics/registry";

const attempts = new Counter({
  name: "minis3_lifecycle_transitions_total",
  help: "Lifecycle moves attempted by this coordinator's due-row poller, by transition and outcome (moved, not_moved: the job's answer, failed: retried with backoff)",
  labelNames: ["transition", "outcome"],
  registers: [registry],
});
const lateness = new Histogram({
  name: "minis3_lifecycle_lateness_seconds",
  help: "How long after its due time each move committed",
  labelNames: ["transition"],
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 600],
  registers: [registry],
});

/** One transition's series, bound once. */
export class TransitionMetrics {
  private readonly moved;
  private readonly notMoved;
  private readonly failed;
  private readonly lateness;

  constructor(transition: string) {
    this.moved = attempts.labels(transition, "moved");
    this.notMoved = attempts.labels(transition, "not_moved");
    this.failed = attempts.labels(transition, "failed");
    this.lateness = lateness.labels(transition);
  }

  recordMoved(latenessMs: number): void {
    this.moved.inc();
    this.lateness.observe(Math.max(0, latenessMs) / 1000);
  }

  recordNotMoved(): void {
    this.notMoved.inc();
  }

  recordFailed(): void {
    this.failed.inc();
  }
}
