/**
 * Micro-benchmark (not a test): the coordinator's relay of a large GET alone. A storage node in a
 * child process serves a blob over its blob plane; this process reads it with NodeClient.readBlob
 * (as the replica reader does) and writes it on to a client's HTTP response, handing each chunk
 * back in its write's callback when the read offers it (as api/body-relay.ts does); the client is
 * curl, which checks the bytes' sha256, so what it costs is not counted here. Prints MB/s and CPU ms per MiB of the relay (client
 * column) and of the node, per pass and the median.
 *
 *   node [--trace-gc] dist/bench/micro/blob-relay.js [MiB=64] [passes=8]
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as http from "node:http";
import { NodeClient } from "../../services/rpc/client/node-client";
import { formatPass, medianPass, NodeChild, serveNode, timedPass, writeWhole, type Pass } from "./node-child";

const CHUNK = 256 * 1024;

async function relay(client: NodeClient, res: http.ServerResponse): Promise<void> {
  const read = await client.readBlob("blob");
  res.writeHead(200, { "content-length": String(read.length) });
  const recycle = (read as { recycle?: (chunk: Buffer) => void }).recycle;
  for await (const chunk of read.chunks) {
    const written = recycle ? res.write(chunk, (e) => e || recycle(chunk)) : res.write(chunk);
    if (!written) await new Promise((r) => res.once("drain", r));
  }
  res.end();
}

/** The sha256 (hex) of what curl got. */
function curl(url: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("sh", ["-c", `curl -s ${url} | sha256sum`], (e, out) => (e ? reject(e) : resolve(out.split(" ")[0]))),
  );
}

async function bench(): Promise<void> {
  const [mib = 64, passes = 8] = process.argv.slice(2, 4).map(Number);
  const node = await NodeChild.start(__filename);
  const client = new NodeClient("bench", `127.0.0.1:${node.port}`);
  const data = randomBytes(mib * 1024 * 1024);
  const sha256 = createHash("sha256").update(data).digest("hex");
  await writeWhole(client, "blob", data, CHUNK);
  const server = http.createServer((_req, res) => void relay(client, res).catch((e) => res.destroy(e as Error)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const pass = async (): Promise<Pass> => {
    let got = "";
    const p = await timedPass(node, data.length, async () => {
      got = await curl(url);
    });
    if (got !== sha256) throw new Error(`relayed bytes with sha256 ${got}, not ${sha256}`);
    return p;
  };
  await pass(); // warm-up: the first compiles the path
  const results: Pass[] = [];
  for (let i = 0; i < passes; i++) {
    const p = await pass();
    results.push(p);
    console.log(`relay GET ${formatPass(p)}`);
  }
  console.log(`median    ${formatPass(medianPass(results))}`);
  server.close();
  client.close();
  node.stop();
}

if (process.argv[2] === "serve") void serveNode(CHUNK);
else void bench();
