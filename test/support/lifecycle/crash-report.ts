import type { TestCluster } from "../cluster";

/**
 * Processes that exited on their own during a test file (a crash the supervisor restarted), with
 * their last log lines: a lifecycle test that fails because a service died should say so.
 */
export function crashReport(cluster: TestCluster, lines = 40): string {
  const crashed = cluster.processes.filter((p) => p.restarts > 0);
  return crashed.map((p) => `--- ${p.name} restarted ${p.restarts}x, last exit ${JSON.stringify(p.lastExit)}\n` +
    cluster.logs(p.name, lines).join("\n")).join("\n");
}
