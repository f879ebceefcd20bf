import type { TestCluster } from "../../../deploy/launcher/cluster";
import { eventually } from "./wait";

// What the coordinator currently believes about its storage nodes, and waiting for it to change.

export interface Health { status: string; liveStorageNodes: number; writeQuorum: number }
export interface NodeView { id: string; kind: string; live: boolean }

export async function health(cluster: TestCluster): Promise<Health> {
  const res = await fetch(`${cluster.httpUrl}/healthz`);
  return (await res.json()) as Health; // 200 or 503, JSON either way
}

export async function liveNodeIds(cluster: TestCluster): Promise<string[]> {
  const res = await fetch(`${cluster.httpUrl}/status`);
  const status = (await res.json()) as { nodes: NodeView[] };
  return status.nodes.filter((n) => n.live).map((n) => n.id).sort();
}

/** Waits until the coordinator sees `id` as down (missed heartbeats: MINIS3_NODE_DOWN_AFTER is 2 s here). */
export function waitNodeDown(cluster: TestCluster, id: string, timeoutMs = 10_000): Promise<true> {
  return eventually(`${id} seen as down`, async () => ((await liveNodeIds(cluster)).includes(id) ? undefined : true), timeoutMs);
}

export function waitNodeLive(cluster: TestCluster, id: string, timeoutMs = 20_000): Promise<true> {
  return eventually(`${id} seen as live`, async () => ((await liveNodeIds(cluster)).includes(id) ? true : undefined), timeoutMs);
}
