// Prometheus metrics (prom-client), one registry per process: prom-client's global one, because a
// coordinator group's primary collects its workers' with AggregatorRegistry, which asks each worker
// for exactly that registry. Every metric MiniS3 defines is named minis3_*; Node's default process
// metrics get the same prefix (minis3_process_cpu_seconds_total, minis3_nodejs_heap_size_used_bytes…).
import { collectDefaultMetrics, register, type Registry } from "prom-client";

export const METRIC_PREFIX = "minis3_";

/** The process's registry (prom-client's global one). */
export const registry: Registry = register;

let started = false;

/** How often the event loop's delay is sampled (here and by the timeline's watch). */
export const LAG_SAMPLE_MS = 100;

/**
 * Node's default metrics, and labels on every series of this process: `service` (coordinator,
 * storage, backup, delete) and, for a node, its id. Once per process.
 */
export function startProcessMetrics(labels: { service: string; node?: string }): void {
  if (started) return;
  started = true;
  registry.setDefaultLabels(labels.node ? { service: labels.service, node: labels.node } : { service: labels.service });
  // The event-loop lag histogram samples with a libuv timer; prom-client's default 10 ms woke every
  // process 100 times a second for it (idle: 11.3 vs 4.2 ms of CPU a second in a bare process with
  // 10 vs 100 ms). A stall still shows at 100 ms: it delays the one pending sample by its length.
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX, eventLoopMonitoringPrecision: LAG_SAMPLE_MS });
}
