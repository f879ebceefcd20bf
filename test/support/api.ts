import type { TestCluster } from "../../deploy/launcher/cluster";
import { authorizationFor } from "../../deploy/launcher/client-credentials";
import { getJson, keyQuery } from "./http";
import { waitFor } from "./wait";

// Typed reads of the facade's JSON endpoints, and waiting for what the coordinator sees to change.

export interface StatJson {
  key: string;
  versionId: string;
  size: number;
  sha256: string;
  tier: "hot" | "cold";
  lastAccessedAt: string;
  replicas: string[];
}

export interface TrashEntryJson {
  key: string;
  versionId: string;
  size: number;
  deletedAt: string;
  purgeAt: string;
  reason: string;
}

export interface NodeView {
  id: string;
  kind: string;
  live: boolean;
}

export interface StatusJson {
  nodes: NodeView[];
  tiers: { tier: "hot" | "cold" | "trash"; objects: number; bytes: number }[];
  queues: { name: string; waiting: number; delayed: number; active: number; failed: number }[];
}

const q = encodeURIComponent;

/** /stat of a key, or null on 404 (other errors throw). */
export async function statOf(base: string, key: string): Promise<StatJson | null> {
  const res = await fetch(`${base}/stat?${keyQuery(key)}`, { headers: authorizationFor(base) });
  if (res.status === 404) {
    await res.arrayBuffer();
    return null;
  }
  if (!res.ok) throw new Error(`/stat ${key}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as StatJson;
}

export const trashOf = async (base: string, prefix: string): Promise<TrashEntryJson[]> =>
  (await getJson<{ entries: TrashEntryJson[] }>(`${base}/trash?prefix=${q(prefix)}`)).entries;

export const listedKeys = async (base: string, prefix: string): Promise<string[]> =>
  (await getJson<{ objects: { key: string }[] }>(`${base}/objects?prefix=${q(prefix)}`)).objects.map((o) => o.key);

export const statusOf = (base: string): Promise<StatusJson> => getJson<StatusJson>(`${base}/status`);

export function tierOf(s: StatusJson, tier: "hot" | "cold" | "trash"): { objects: number; bytes: number } {
  const t = s.tiers.find((x) => x.tier === tier);
  if (!t) throw new Error(`/status has no tier ${tier}`);
  return { objects: t.objects, bytes: t.bytes };
}

export function queueOf(s: StatusJson, name: string): StatusJson["queues"][number] {
  const found = s.queues.find((x) => x.name === name);
  if (!found) throw new Error(`/status has no queue ${name}`);
  return found;
}

/** True when no lifecycle job is waiting or running (delayed ones are future work, not in flight). */
export function queuesIdle(s: StatusJson): boolean {
  return s.queues.filter((x) => x.name !== "reconcile").every((x) => x.waiting === 0 && x.active === 0);
}

export interface Health {
  status: string;
  liveStorageNodes: number;
  writeQuorum: number;
}

export async function health(cluster: TestCluster): Promise<Health> {
  const res = await fetch(`${cluster.httpUrl}/healthz`);
  return (await res.json()) as Health; // 200 or 503, JSON either way
}

export async function liveNodeIds(cluster: TestCluster): Promise<string[]> {
  return (await statusOf(cluster.httpUrl)).nodes
    .filter((n) => n.live)
    .map((n) => n.id)
    .sort();
}

/** Waits until the coordinator sees `id` as down (missed heartbeats: MINIS3_NODE_DOWN_AFTER is 2 s here). */
export function waitNodeDown(cluster: TestCluster, id: string, timeoutMs = 10_000): Promise<true> {
  return waitFor(`${id} seen as down`, async () => ((await liveNodeIds(cluster)).includes(id) ? undefined : true), timeoutMs, 200);
}

export function waitNodeLive(cluster: TestCluster, id: string, timeoutMs = 20_000): Promise<true> {
  return waitFor(`${id} seen as live`, async () => ((await liveNodeIds(cluster)).includes(id) ? true : undefined), timeoutMs, 200);
}
