// A coordinator group (coordinator/group.ts) shares its ports among workers, and the primary hands
// each connection to one of them: a metrics port served by the workers would answer each scrape
// from whichever worker got the connection, so counters would jump between workers' values. So
// the primary serves the group's metrics: it asks every worker for its registry over the cluster
// IPC channel (prom-client's AggregatorRegistry protocol, which each worker answers) and merges them
// with AggregatorRegistry.aggregate (counters and histograms summed; gauges as each metric says:
// cluster-wide figures read from the catalogue are taken once, not summed). Unlike prom-client's
// clusterMetrics(), which fails the whole scrape when one worker does not answer within 5 s (a
// worker still starting, or being re-forked), it merges those that answered within a second.
import cluster from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import type { MetricsSource } from "./metrics-server";

const REQUEST = "prom-client:getMetricsReq";
const RESPONSE = "prom-client:getMetricsRes";
const WAIT_MS = 1000;

/** In a worker, as early as it starts: answer the primary's requests for this worker's registry. */
export function answerGroupPrimary(): void {
  new AggregatorRegistry(); // installs prom-client's worker IPC listener (idempotent)
}

interface Response {
  type: string;
  requestId: number;
  /** One list of metrics (getMetricsAsJSON) per registry the worker serves. */
  metrics?: object[];
  error?: string;
}

/** In the primary: every worker's metrics that arrive within WAIT_MS, merged. */
export function groupMetrics(): MetricsSource {
  let next = 0;
  const waiting = new Map<number, (r: Response) => void>();
  cluster.on("message", (_worker, message: Response) => {
    if (message?.type === RESPONSE) waiting.get(message.requestId)?.(message);
  });
  return async () => {
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w?.isConnected());
    const answers: object[] = [];
    const requestId = next++;
    await new Promise<void>((resolve) => {
      let pending = workers.length;
      const timer = setTimeout(resolve, WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      waiting.set(requestId, (r) => {
        if (r.metrics) answers.push(...r.metrics);
        if (--pending === 0) done();
      });
      if (pending === 0) done();
      for (const w of workers) w!.send({ type: REQUEST, requestId });
    });
    waiting.delete(requestId);
    const merged = AggregatorRegistry.aggregate(answers);
    return { contentType: merged.contentType, body: await merged.metrics() };
  };
}
