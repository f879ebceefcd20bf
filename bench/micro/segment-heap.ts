/**
 * Micro-benchmark (not a test): what a node's segment index holds in memory per small blob. `count`
 * puts of 1 KiB go into a SegmentStore, which is closed; a second store opens the same directory (its
 * index rebuilt by the scan at open, as after a restart) and the heap and external memory it adds,
 * after forced collections, is printed per blob (and the CPU time of that open). `attrs`: "none" (a storage node's puts) or "trash"
 * (a trash copy's ten attributes, as the lifecycle's trash job sends them to the delete node).
 *
 *   node --expose-gc dist/bench/micro/segment-heap.js [count=200000] [attrs=none|trash]
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { newVersionId } from "../../services/common/ids";
import { SegmentStore } from "../../services/blobstore/segment-store";
import { inBatches } from "./segment-fill";

/** Heap used + external after collections (the second one takes what the first's finalizers freed). */
function settled(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc");
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/**
 * A trash copy's attributes (services/coordinator/lifecycle/jobs/trash.ts): its blob id is the
 * version's id, its sha256 the blob's own; the rest distinct per blob as they are.
 */
function trashAttributes(i: number, blobId: string, sha256: string): Record<string, string> {
  const now = Date.now();
  return {
    bucket: "bench-bucket",
    key: `objects/${String(i % 1000).padStart(4, "0")}/key-${i}.bin`,
    versionId: blobId,
    size: "1024",
    sha256, // the blob's own, in hex

    etag: createHash("md5").update(blobId).digest("hex"),
    contentType: "application/octet-stream",
    reason: i % 2 ? "overwritten" : "deleted",
    deletedAtMs: String(now),
    purgeAtMs: String(now + 86_400_000),
  };
}

async function bench(): Promise<void> {
  const count = Number(process.argv[2] ?? 200_000);
  const attrs = process.argv[3] ?? "none";
  if (attrs !== "none" && attrs !== "trash") throw new Error(`attrs: none or trash, not ${attrs}`);
  const log = pino({ level: "silent" });
  const dir = await mkdtemp(join(tmpdir(), "minis3-heap-"));
  try {
    const data = randomBytes(1024);
    const sha256 = createHash("sha256").update(data).digest();
    const ids = Array.from({ length: count }, () => newVersionId());
    const writer = new SegmentStore({ dir, log });
    await writer.open();
    let n = 0;
    await inBatches(ids, (id) => writer.put(id, attrs === "trash" ? trashAttributes(n++, id, sha256.toString("hex")) : {}, data, sha256));
    await writer.close();
    ids.length = 0;
    const before = settled();
    const cpu = process.cpuUsage();
    const store = new SegmentStore({ dir, log });
    await store.open();
    const used = process.cpuUsage(cpu);
    const after = settled();
    const found = store.stats().blobCount;
    const perBlob = (after - before) / found;
    console.log(
      `${found} blobs (${attrs} attributes): ${perBlob.toFixed(1)} bytes a blob (heap + external), ${((perBlob * 1e6) / 2 ** 20).toFixed(0)} MiB per million, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB; the open's CPU ${((used.user + used.system) / 1000).toFixed(0)} ms`,
    );
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void bench();
