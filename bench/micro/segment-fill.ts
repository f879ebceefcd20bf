import { createHash, randomBytes } from "node:crypto";
import type { SegmentStore } from "../../services/blobstore/segment-store";

/** Puts at once, as a storage node's groups take them. */
const AT_ONCE = 256;

/** Runs `op` on every id, AT_ONCE at a time. */
export async function inBatches(ids: string[], op: (id: string) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < ids.length; i += AT_ONCE) await Promise.all(ids.slice(i, i + AT_ONCE).map(op));
}

/** `count` blobs of `size` random bytes (one body for all) put into `store`; answers their ids. */
export async function fillSegments(store: SegmentStore, count: number, size = 4096): Promise<string[]> {
  const data = randomBytes(size);
  const sha256 = createHash("sha256").update(data).digest();
  const ids = Array.from({ length: count }, (_, i) => `bench-${i.toString().padStart(8, "0")}-0123456789abcdef`);
  await inBatches(ids, (id) => store.put(id, { "content-type": "application/octet-stream" }, data, sha256));
  return ids;
}
