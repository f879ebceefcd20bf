import { createHash } from "node:crypto";
import { silentLog } from "../../rpc/testing/test-helpers";
import type { BlobMeta } from "../../rpc/blob-backend";
import type { BlobRead, BlobUpload } from "../../rpc/client/node-client";
import type { NodePool } from "../cluster/node-pool";
import type { VersionRow } from "../model/version-row";
import { BlobCopier } from "./blob-copier";

// The copier's memory bound: large objects stream through the coordinator one at a time, whatever
// the lifecycle queues' concurrency, while small ones pass beside them. Nodes are in-memory stand-ins.

const SMALL_MAX = 1024;

function version(id: string, data: Buffer): VersionRow {
  return {
    versionId: id, bucket: "b", key: id, size: data.length, sha256: createHash("sha256").update(data).digest("hex"), etag: "",
    contentType: "application/octet-stream", metadata: {}, state: "trash", tier: "hot", replicas: ["src"], cleanup: [],
    createdMs: 0, accessedMs: 0, deletedMs: 0, purgeMs: 0, reason: "deleted",
  };
}

/** A source node whose streamed reads wait for `release()`, and a target that keeps what it gets. */
function fakeNodes(blobs: Map<string, Buffer>) {
  let streaming = 0;
  let mostStreaming = 0;
  const gates: (() => void)[] = [];
  const stored = new Map<string, Buffer>();
  const meta = (id: string): BlobMeta => ({ blobId: id, size: blobs.get(id)!.length, sha256: Buffer.alloc(32), storedAtMs: 0, attributes: {} });
  const client = {
    async readBlob(id: string): Promise<BlobRead> {
      const data = blobs.get(id)!;
      async function* chunks() {
        streaming++;
        mostStreaming = Math.max(mostStreaming, streaming);
        try {
          await new Promise<void>((r) => gates.push(r));
          yield data;
        } finally {
          streaming--;
        }
      }
      return { meta: meta(id), offset: 0, length: data.length, chunks: chunks() };
    },
    writeBlob(id: string): BlobUpload {
      const parts: Buffer[] = [];
      return {
        async write(chunk: Buffer) { parts.push(Buffer.from(chunk)); },
        async finish() { stored.set(id, Buffer.concat(parts)); return meta(id); },
        abort() { /* nothing kept */ },
      };
    },
    async getSmall(id: string) { return { data: blobs.get(id)!, meta: meta(id) }; },
    async putSmall(id: string, _attributes: Record<string, string>, data: Buffer) { stored.set(id, Buffer.from(data)); return meta(id); },
    async deleteBlob() { return true; },
  };
  const pool = { isLive: () => true, client: () => client, suspect: () => undefined } as unknown as NodePool;
  return {
    pool, stored,
    mostStreaming: () => mostStreaming,
    waitingReads: () => gates.length,
    release: () => gates.shift()?.(),
  };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

test("large copies stream one at a time, small ones pass beside them, and every copy arrives whole", async () => {
  const blobs = new Map<string, Buffer>([
    ["big-1", Buffer.alloc(5000, 1)], ["big-2", Buffer.alloc(6000, 2)], ["big-3", Buffer.alloc(7000, 3)], ["small", Buffer.alloc(100, 4)],
  ]);
  const nodes = fakeNodes(blobs);
  const copier = new BlobCopier(nodes.pool, silentLog, SMALL_MAX);
  const copy = (id: string) => copier.copy(version(id, blobs.get(id)!), ["src"], ["dst"], 1);

  const big = ["big-1", "big-2", "big-3"].map(copy);
  await tick();
  expect(await copy("small")).toEqual(["dst"]); // not queued behind the large ones
  for (let i = 0; i < 3; i++) {
    for (let t = 0; t < 20 && nodes.waitingReads() === 0; t++) await tick();
    expect(nodes.waitingReads()).toBe(1);
    nodes.release();
  }
  expect(await Promise.all(big)).toEqual([["dst"], ["dst"], ["dst"]]);
  expect(nodes.mostStreaming()).toBe(1);
  for (const [id, data] of blobs) expect(nodes.stored.get(id)?.equals(data)).toBe(true);
});
