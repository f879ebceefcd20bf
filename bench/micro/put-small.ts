/**
 * Micro-benchmark (not a test): putSmall/getSmall throughput of one storage node over gRPC.
 * The node runs in a child process so both sides' CPU can be measured separately.
 *
 *   node dist/bench/micro/put-small.js [inFlight=64] [seconds=5] [size=4096] [op=put|put-crc|get] [rounds=1]
 *
 * op "put-crc": puts sent with the body's crc32, which the node checks instead of hashing the body
 * with sha256 (SegmentStore.put). Ops joined by commas ("put,put-crc") run alternated against the
 * same node, `rounds` times each, one line per run: the comparison this VM's drift allows.
 */
import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { NodeClient } from "../../services/rpc/client/node-client";
import { NodeChild, serveNode } from "./node-child";

async function bench(): Promise<void> {
  const [inFlight = 64, seconds = 5, size = 4096] = process.argv.slice(2, 5).map(Number);
  const ops = (process.argv[5] ?? "put").split(",");
  const rounds = Number(process.argv[6] ?? 1);
  const node = await NodeChild.start(__filename);
  const client = new NodeClient("bench", `127.0.0.1:${node.port}`);
  const data = randomBytes(size);
  const sha = createHash("sha256").update(data).digest();
  const crc = crc32(data);
  let n = 0;
  let runs = 0;
  const ids: string[] = [];
  let lat: number[] = [];
  const runFor = async (op: string, ms: number, record: boolean) => {
    const end = Date.now() + ms;
    runs++;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, w) => {
        let i = 0;
        while (Date.now() < end) {
          const t = process.hrtime.bigint();
          if (op === "get" && ids.length) await client.getSmall(ids[(w * 7919 + i++) % ids.length]);
          else {
            const id = `b${runs}-${w}-${i++}`;
            await client.putSmall(id, {}, data, sha, undefined, op === "put-crc" ? crc : undefined);
            if (ids.length < 100_000) ids.push(id);
          }
          if (record) {
            n++;
            lat.push(Number(process.hrtime.bigint() - t) / 1e6);
          }
        }
      }),
    );
  };
  await runFor(ops[0], 1000, false); // warm-up (and, for get, something to read)
  for (let round = 0; round < rounds; round++) {
    for (const op of ops) {
      n = 0;
      lat = [];
      await node.mark();
      const cpu0 = process.cpuUsage();
      const t0 = Date.now();
      await runFor(op, seconds * 1000, true);
      const wall = (Date.now() - t0) / 1000;
      const c = process.cpuUsage(cpu0);
      const cpuUs = await node.cpuUs();
      lat.sort((a, b) => a - b);
      const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(2);
      console.log(
        JSON.stringify({
          op,
          round,
          size,
          inFlight,
          opsPerSec: Math.round(n / wall),
          clientCpuUsPerOp: +((c.user + c.system) / n).toFixed(1),
          nodeCpuUsPerOp: +(cpuUs / n).toFixed(1),
          p50ms: pct(0.5),
          p99ms: pct(0.99),
        }),
      );
    }
  }
  client.close();
  node.stop();
}

if (process.argv[2] === "serve") void serveNode(256 * 1024);
else void bench();
