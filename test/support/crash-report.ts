import type { TestCluster } from "../../deploy/launcher/cluster";

/**
 * Processes that exited on their own during a test file (a crash the supervisor restarted), with
 * their last log lines: a lifecycle test that fails because a service died should say so.
 */
export function crashReport(cluster: TestCluster, lines = 40): string {
  const crashed = cluster.processes.filter((p) => p.restarts > 0);
  return crashed
    .map(
      (p) => `--- ${p.name} restarted ${p.restarts}x, last exit ${JSON.stringify(p.lastExit)}\n` + cluster.logs(p.name, lines).join("\n"),
    )
    .join("\n");
}

/** Stops the inspector and the cluster, first printing any process that crashed during the file. */
export async function stopAndReport(cluster: TestCluster | undefined, nodes?: { close(): Promise<void> }): Promise<void> {
  const crashes = cluster ? crashReport(cluster) : "";
  if (crashes) process.stdout.write(`processes that died during the run:\n${crashes}\n`);
  await nodes?.close();
  await cluster?.stop();
}

/** Rethrows a failure with the coordinator's last log lines: what one needs when a move stalls. */
export async function withCoordinatorLogs<T>(cluster: TestCluster, what: Promise<T>, lines = 40): Promise<T> {
  try {
    return await what;
  } catch (e) {
    throw new Error(`${(e as Error).message}\ncoordinator log:\n${cluster.logs("coordinator", lines).join("\n")}`);
  }
}
