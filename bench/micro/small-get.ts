/**
 * Micro-benchmark (not a test): the coordinator's side of a small GET (ReplicaReader.open of a
 * 4 KiB version, 32 in flight) read from a storage node over Exchange and checked by sha256 (the
 * body cache off, or missing), against the same reads answered by the body cache. The node runs
 * in a child process, so each side's CPU per read is measured apart. Passes alternate.
 *
 *   node dist/bench/micro/small-get.js [reads=20000] [passes=4] [size=4096]
 */
import { createHash, randomBytes } from "node:crypto";
import pino from "pino";
import type { NodePool } from "../../services/coordinator/cluster/node-pool";
import type { VersionRow } from "../../services/coordinator/model/version-row";
import { BodyCache } from "../../services/coordinator/replicas/body-cache";
import { ReplicaReader } from "../../services/coordinator/replicas/replica-reader";
import { NodeClient } from "../../services/rpc/client/node-client";
import { NodeChild, serveNode } from "./node-child";

const CHUNK = 256 * 1024;
const KEYS = 1000;
const IN_FLIGHT = 32;

/** The fields of a catalogue row the reader uses. */
function row(versionId: string, data: Buffer): VersionRow {
  const sha256 = createHash("sha256").update(data).digest("hex");
  return { versionId, bucket: "b", key: versionId, size: data.length, sha256, replicas: ["bench"] } as VersionRow;
}

async function pass(node: NodeChild, reader: ReplicaReader, rows: VersionRow[], reads: number) {
  await node.mark();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < reads) {
        const v = rows[next++ % rows.length];
        let got = 0;
        for await (const chunk of await reader.open(v, 0, v.size, undefined)) got += chunk.length;
        if (got !== v.size) throw new Error(`read ${got} of ${v.size} bytes`);
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  return { perSecond: reads / s, coordinatorUs: (c.user + c.system) / reads, nodeUs: (await node.cpuUs()) / reads };
}

async function bench(): Promise<void> {
  const [reads = 20_000, passes = 4, size = 4096] = process.argv.slice(2, 5).map(Number);
  const node = await NodeChild.start(__filename);
  const client = new NodeClient("bench", `127.0.0.1:${node.port}`);
  const pool = { client: () => client, isLive: () => true, failed: () => undefined } as unknown as NodePool;
  const log = pino({ level: "warn" });
  const rows: VersionRow[] = [];
  for (let i = 0; i < KEYS; i++) {
    const data = randomBytes(size);
    const v = row(`v${String(i).padStart(35, "0")}`, data);
    await client.putSmall(v.versionId, {}, data, Buffer.from(v.sha256, "hex"));
    rows.push(v);
  }
  const off = new ReplicaReader(pool, CHUNK, log, undefined, new BodyCache(0, CHUNK));
  const on = new ReplicaReader(pool, CHUNK, log, undefined, new BodyCache(8 * 1024 * 1024, CHUNK));
  await pass(node, off, rows, reads); // warm-up: compiles the node path
  await pass(node, on, rows, reads); // warm-up, and fills the cache (each version read once from the node)
  const fmt = (p: Awaited<ReturnType<typeof pass>>) =>
    `${p.perSecond.toFixed(0).padStart(6)} reads/s, coordinator ${p.coordinatorUs.toFixed(1).padStart(5)} µs/read, node ${p.nodeUs.toFixed(1).padStart(5)} µs/read`;
  for (let i = 0; i < passes; i++) {
    console.log(`node  ${fmt(await pass(node, off, rows, reads))}`);
    console.log(`cache ${fmt(await pass(node, on, rows, reads))}`);
  }
  client.close();
  node.stop();
}

if (process.argv[2] === "serve") void serveNode(CHUNK);
else void bench();
