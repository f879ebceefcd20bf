/**
 * Micro-benchmark (not a test): one large blob written to a storage node over its blob plane (PUT),
 * over the plane checked by block crc32 (PUT with the "block-crc32" check, as the coordinator's
 * large uploads: the node does not hash the sha256) and over WriteBlob (gRPC), alternated, in 256
 * KiB chunks as the replica writer sends them. The node runs in a child process (a DiskBackend:
 * temp file, sha256 and/or crc32, fsync, rename) so both sides' CPU is measured apart. Prints MB/s
 * and CPU ms per MiB of each side, per pass and the median.
 *
 *   node dist/bench/micro/blob-put.js [MiB=64] [pairs=6]
 */
import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import type { WireCheck } from "../../services/rpc/blob-backend";
import { BlockChecksums, CHECK_BLOCK } from "../../services/rpc/block-checksums";
import { NodeClient } from "../../services/rpc/client/node-client";
import { formatPass, medianPass, NodeChild, serveNode, timedPass, type Pass } from "./node-child";

const CHUNK = 256 * 1024;

/** The body's digests, computed once: the coordinator's digest thread computes them in a bench run. */
interface Digests {
  sha256: Buffer;
  blockCrc: number;
}

async function pass(node: NodeChild, client: NodeClient, id: string, data: Buffer, d: Digests, check: WireCheck = "sha256"): Promise<Pass> {
  const p = await timedPass(node, data.length, async () => {
    const up = client.writeBlob(id, {}, undefined, check);
    for (let at = 0; at < data.length; at += CHUNK) await up.write(data.subarray(at, at + CHUNK));
    await up.finish(data.length, d.sha256, check === "blockCrc" ? d.blockCrc : undefined);
  });
  await node.delete(id);
  return p;
}

async function bench(): Promise<void> {
  const [mib = 64, pairs = 6] = process.argv.slice(2, 4).map(Number);
  const node = await NodeChild.start(__filename);
  const plane = new NodeClient("bench", `127.0.0.1:${node.port}`);
  const grpc = new NodeClient("bench", `127.0.0.1:${node.port}`, { blobPlane: false, maxChunkBytes: CHUNK });
  const data = randomBytes(mib * 1024 * 1024);
  const blocks = new BlockChecksums(crc32, CHECK_BLOCK);
  blocks.update(data);
  const digests = { sha256: createHash("sha256").update(data).digest(), blockCrc: blocks.fold() };
  // One warm-up pass each: the first compiles the path.
  await pass(node, grpc, "warm-grpc", data, digests);
  await pass(node, plane, "warm-plane", data, digests);
  await pass(node, plane, "warm-crc", data, digests, "blockCrc");
  const results: Record<"WriteBlob" | "plane" | "plane+crc", Pass[]> = { WriteBlob: [], plane: [], "plane+crc": [] };
  for (let i = 0; i < pairs; i++) {
    for (const [name, client, check] of [
      ["WriteBlob", grpc, "sha256"],
      ["plane", plane, "sha256"],
      ["plane+crc", plane, "blockCrc"],
    ] as const) {
      const p = await pass(node, client, `b${i}-${name.replace("+", "-")}`, data, digests, check);
      results[name].push(p);
      console.log(`${name.padEnd(9)} ${formatPass(p)}`);
    }
  }
  for (const [name, ps] of Object.entries(results)) console.log(`median ${name.padEnd(9)} ${formatPass(medianPass(ps))}`);
  plane.close();
  grpc.close();
  node.stop();
}

if (process.argv[2] === "serve") void serveNode(CHUNK);
else void bench();
