import type { ChaosClient } from "./chaos-client";
import type { History } from "./history";

// After the faults stop: every key is read back once more (byte-exact, judged by the History), then
// every object that is there is watched through /stat until the catalogue lists R copies on live
// storage nodes (a cold object's one copy on the backup node counts as whole).

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs fn over items with at most `limit` at once. */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export interface FinalReads {
  /** Keys that read back with bytes. */
  present: string[];
  /** Keys that gave no answer (neither bytes nor 404) before the deadline: unavailable. */
  unreadable: string[];
}

/**
 * Reads every key until it answers with bytes or NoSuchKey (a cluster still recovering may refuse
 * for a while), alternating front doors, and judges the answer as the key's final state.
 */
export async function readBack(client: ChaosClient, history: History, concurrency: number, timeoutMs: number): Promise<FinalReads> {
  const deadline = Date.now() + timeoutMs;
  const present: string[] = [];
  const unreadable: string[] = [];
  let door = 0;
  await eachLimited(history.allKeys(), concurrency, async (key) => {
    for (;;) {
      const answer = await client.retrieve(door++ % client.targets.length, key);
      if (answer.kind === "ok") {
        present.push(key);
        history.final(key, { sha256: answer.value.sha256, size: answer.value.size });
        return;
      }
      if (answer.kind === "absent") {
        history.final(key, "absent");
        return;
      }
      if (Date.now() > deadline) {
        unreadable.push(key);
        return;
      }
      await sleep(250);
    }
  });
  return { present, unreadable };
}

export interface RepairWait {
  /** From `since` until every object listed its R copies; null if that did not happen in time. */
  fullRepairMs: number | null;
  /** Objects still short when the wait ended: key and the copies listed on live nodes. */
  short: { key: string; tier: string; liveCopies: number }[];
}

/** Polls /stat of every present key until each lists `replicas` copies on live storage nodes. */
export async function waitFullRepair(
  client: ChaosClient,
  keys: readonly string[],
  replicas: number,
  since: number,
  timeoutMs: number,
  concurrency: number,
): Promise<RepairWait> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...keys];
  let short: RepairWait["short"] = [];
  for (;;) {
    const nodes = await client.nodes(0);
    const live = new Set(nodes.kind === "ok" ? nodes.value.filter((n) => n.live).map((n) => n.id) : []);
    const still: string[] = [];
    short = [];
    await eachLimited(pending, concurrency, async (key) => {
      const s = await client.stat(0, key);
      if (s.kind === "absent") return; // nothing is writing any more: gone stays gone (read back judged it)
      if (s.kind !== "ok") {
        still.push(key);
        short.push({ key, tier: "?", liveCopies: 0 });
        return;
      }
      const liveCopies = s.value.replicas.filter((r) => live.has(r)).length;
      const want = s.value.tier === "hot" ? replicas : 1;
      if (liveCopies < want) {
        still.push(key);
        short.push({ key, tier: s.value.tier, liveCopies });
      }
    });
    pending = still;
    if (pending.length === 0) return { fullRepairMs: Date.now() - since, short: [] };
    if (Date.now() > deadline) return { fullRepairMs: null, short };
    await sleep(500);
  }
}
