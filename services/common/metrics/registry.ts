// Prometheus metrics (prom-client), one registry per process: prom-client's global one, because a
// coordinator group's primary collects its workers' with AggregatorRegistry, which asks each worker
// for exactly that registry. Every metric MiniS3 defines is named minis3_*; Node's default process
// metrics get the same prefix (minis3_process_cpu_seconds_total, minis3_nodejs_heap_size_used_bytes…).
import { collectDefaultMetrics, register, type Registry } from "prom-client";

export const METRIC_PREFIX = "minis3_";

/** The process's registry (prom-client's global one). */
export const registry: Registry = register;

let started = false;

/**
 * Node's default metrics, and labels on every series of this process: `service` (coordinator,
 * storage, backup, delete) and, for a node, its id. Once per process.
 */
export function startProcessMetrics(labels: { service: string; node?: string }): void {
  if (started) return;
  started = true;
  registry.setDefaultLabels(labels.node ? { service: labels.service, node: labels.node } : { service: labels.service });
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
}
