import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { TestCluster } from "../../deploy/launcher/cluster";
import { findFreePortBlock } from "../../deploy/launcher/ports";
import { stopChild } from "./stop-child";

export interface ExtraStorageNode {
  id: string;
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * A storage node added to a running cluster, as an operator adds one: the cluster's own storage
 * node settings (same database) with a new id, port and data dir. It joins the ring once it
 * heartbeats; the caller waits for the coordinators to see it.
 */
export async function startExtraStorageNode(cluster: TestCluster, id: string): Promise<ExtraStorageNode> {
  const spec = cluster.specs.find((s) => s.kind === "storage")!;
  const port = await findFreePortBlock(1);
  const address = `127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), spec.script], {
    env: {
      ...spec.env,
      MINIS3_NODE_ID: id,
      MINIS3_NODE_PORT: String(port),
      MINIS3_NODE_ADDRESS: address,
      MINIS3_DATA_DIR: join(cluster.dataDir, id),
      MINIS3_METRICS_PORT: "0", // the node whose settings these are holds its metrics port
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return { id, address, process: child, stop: () => stopChild(child) };
}
