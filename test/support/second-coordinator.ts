import { spawn, type ChildProcess } from "node:child_process";
import { rememberKeyPair } from "../../deploy/launcher/client-credentials";
import { findFreePortBlock } from "../../deploy/launcher/ports";
import type { TestCluster } from "../../deploy/launcher/cluster";
import { waitFor } from "./wait";

export interface SecondCoordinator {
  url: string;
  process: ChildProcess;
}

/**
 * One more coordinator process on a running cluster: the cluster's own coordinator settings (same
 * database, queues, nodes) on ports of its own (HTTP `port`, gRPC the next one; default: free ones,
 * given again to restart it at the same address; S3 the one after). Resolves once it answers /healthz (a coordinator
 * restarted on a loaded machine can take over 30 s: give it `timeoutMs`); killed if it does not.
 * `env` overrides settings for it alone (its Redis through a proxy the test owns, say).
 */
export async function startSecondCoordinator(
  cluster: TestCluster,
  httpPort?: number,
  timeoutMs = 30_000,
  env: Record<string, string> = {},
): Promise<SecondCoordinator> {
  const spec = cluster.specs.find((s) => s.kind === "coordinator")!;
  const port = httpPort ?? (await findFreePortBlock(3));
  const url = `http://127.0.0.1:${port}`;
  // Same keys as the cluster's own coordinator: the shared clients sign calls to it too.
  rememberKeyPair([url, `127.0.0.1:${port + 1}`], { accessKey: cluster.accessKey, secretKey: cluster.secretKey });
  const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), spec.script], {
    // Metrics off: the cluster's coordinator already holds the metrics port its settings name.
    env: {
      ...spec.env,
      MINIS3_HTTP_PORT: String(port),
      MINIS3_GRPC_PORT: String(port + 1),
      MINIS3_S3_PORT: String(port + 2),
      MINIS3_METRICS_PORT: "0",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    await waitFor(
      "the second coordinator answers /healthz",
      async () => {
        const res = await fetch(`${url}/healthz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      timeoutMs,
      200,
    );
  } catch (e) {
    child.kill("SIGKILL"); // not left running after the test gave up on it
    throw e;
  }
  return { url, process: child };
}
