import { performance } from "node:perf_hooks";
import { newVersionId } from "../../../common/ids";
import { LEASE_MARGIN_MS, type InvalidationBus } from "../../cluster/invalidation-bus";
import type { NewVersion } from "../catalogue";

// What the tests of coordinators' read caches kept coherent over the invalidation bus share.

/** A new version of `bucket/key` (its size `n` tells versions apart in a failure's output). */
export function testVersion(bucket: string, key: string, n: number): NewVersion {
  return {
    versionId: newVersionId(),
    bucket,
    key,
    size: n,
    sha256: "a".repeat(64),
    etag: "b".repeat(32),
    contentType: "text/plain",
    metadata: {},
    replicas: ["s1", "s2"],
    createdMs: Date.now(),
  };
}

export async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Both caches answer, each has heard the other, and its first lease of not knowing every peer is over. */
export async function bothServing(a: { bus: InvalidationBus }, b: { bus: InvalidationBus }, leaseMs: number): Promise<void> {
  await until("both leases", () => a.bus.leaseStretch() !== undefined && b.bus.leaseStretch() !== undefined);
  await new Promise((r) => setTimeout(r, leaseMs + LEASE_MARGIN_MS + 50));
}
