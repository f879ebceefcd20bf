// Batches of grouped work (group-commit.ts): how many items each flush carried and how many flushes
// (each at least one round trip to MariaDB, Redis or a node) ran, per named GroupCommit.
import { Counter, Histogram } from "prom-client";
import { registry } from "./registry";

const size = new Histogram({
  name: "minis3_batch_size",
  help: "Items per flush of a grouped operation (catalogue commits, lookups, lifecycle moves; the backup node's puts…)",
  labelNames: ["batch"],
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
  registers: [registry],
});
const flushes = new Counter({
  name: "minis3_batch_flushes_total",
  help: "Flushes of a grouped operation: its round trips (a transaction counts once)",
  labelNames: ["batch"],
  registers: [registry],
});

export interface BatchMetrics {
  flushed(items: number): void;
}

export function batchMetrics(name: string): BatchMetrics {
  const s = size.labels(name);
  const f = flushes.labels(name);
  return {
    flushed: (items) => {
      s.observe(items);
      f.inc();
    },
  };
}
