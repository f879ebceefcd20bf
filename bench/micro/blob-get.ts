/**
 * Micro-benchmark (not a test): one large blob read whole from a storage node over its blob plane
 * (GET), as the replica reader reads it. The node runs in a child process (a DiskBackend: file
 * reads, the checks of each block, the socket) so both sides' CPU is measured apart. Prints MB/s
 * and CPU ms per MiB of each side, per pass and the median.
 *
 *   node dist/bench/micro/blob-get.js [MiB=64] [passes=8]
 */
import { createHash, randomBytes } from "node:crypto";
import { NodeClient } from "../../services/rpc/client/node-client";
import { formatPass, medianPass, NodeChild, serveNode, timedPass, writeWhole, type Pass } from "./node-child";

const CHUNK = 256 * 1024;

async function pass(node: NodeChild, client: NodeClient, id: string, bytes: number, sha256: Buffer): Promise<Pass> {
  let got = 0;
  let meta: { sha256: Buffer } | undefined;
  const p = await timedPass(node, bytes, async () => {
    const read = await client.readBlob(id);
    meta = read.meta;
    for await (const chunk of read.chunks) got += chunk.length;
  });
  if (got !== bytes || !meta?.sha256.equals(sha256)) throw new Error(`read ${got} of ${bytes} bytes`);
  return p;
}

async function bench(): Promise<void> {
  const [mib = 64, passes = 8] = process.argv.slice(2, 4).map(Number);
  const node = await NodeChild.start(__filename);
  const client = new NodeClient("bench", `127.0.0.1:${node.port}`);
  const data = randomBytes(mib * 1024 * 1024);
  const sha256 = createHash("sha256").update(data).digest();
  await writeWhole(client, "blob", data, CHUNK);
  await pass(node, client, "blob", data.length, sha256); // warm-up: the first compiles the path
  const results: Pass[] = [];
  for (let i = 0; i < passes; i++) {
    const p = await pass(node, client, "blob", data.length, sha256);
    results.push(p);
    console.log(`plane GET ${formatPass(p)}`);
  }
  console.log(`median    ${formatPass(medianPass(results))}`);
  client.close();
  node.stop();
}

if (process.argv[2] === "serve") void serveNode(CHUNK);
else void bench();
