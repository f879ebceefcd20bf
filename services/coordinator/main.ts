import cluster from "node:cluster";
import { loadConfig } from "../common/config";
import { createLogger } from "../common/logger";
import { answerGroupPrimary } from "../common/metrics/group-metrics";
import { runMain } from "../common/process";
import { loadCoordinatorConfig } from "./coordinator-config";

// The coordinator's entry. With MINIS3_COORDINATORS above 1 this process is a small primary that
// forks that many coordinators sharing its HTTP, gRPC and S3 ports (group/primary.ts) and serves nothing itself;
// each worker, or a lone coordinator, serves (serve.ts). The modules are loaded only where they run:
// the primary never loads the engine, gRPC or fastify.

const log = createLogger("coordinator");
const { coordinators } = loadConfig(["coordinators"]);
// Every setting checked before a port is bound: a bad value stops the process with status 2 naming
// it, not with whatever the listen meets first (a port in use) in a primary that never reads it.
const config = loadCoordinatorConfig();

if (cluster.isPrimary && coordinators > 1) {
  runMain(log, async () => {
    await (await import("./group/primary")).runGroupPrimary(log, { workers: coordinators });
    // The group's metrics, merged from its workers, on the one metrics port (group-metrics.ts says why).
    const { host, metricsPort } = loadConfig(["host", "metricsPort"]);
    const { serveMetrics } = await import("../common/metrics/metrics-server");
    const { groupMetrics } = await import("../common/metrics/group-metrics");
    await serveMetrics(host, metricsPort, log, groupMetrics()); // closed by the primary's exit
  });
} else if (cluster.isWorker) {
  // A worker stops when its primary passes SIGTERM on. Ctrl-C at a terminal reaches the primary and
  // every worker at once, and a second signal means "exit now" (common/process.ts), so a worker
  // ignores SIGINT and lets the primary's SIGTERM be its one signal.
  const ignore = () => undefined;
  process.on("SIGINT", ignore);
  // At once: the primary asks every worker for its metrics, one still starting too (group-metrics.ts).
  answerGroupPrimary();
  runMain(log, async () => {
    await (await import("./serve")).serve(config, log);
    process.removeAllListeners("SIGINT");
    process.on("SIGINT", ignore);
  });
} else {
  runMain(log, async () => (await import("./serve")).serve(config, log));
}
