/**
 * Micro-benchmark (not a test): putSmall/getSmall throughput of one storage node over gRPC.
 * The node runs in a child process so both sides' CPU can be measured separately.
 *
 *   node dist/bench/micro/put-small.js [inFlight=64] [seconds=5] [size=4096] [op=put|get]
 */
import { fork, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { NodeClient } from "../../services/rpc/client/node-client";
import { startNodeServer } from "../../services/rpc/server/node-server";
import { DiskBackend } from "../../services/blobstore/disk-backend";

const log = pino({ level: "warn" });

async function serve(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "minis3-bench-"));
  const backend = new DiskBackend({ dataDir: dir, chunkSize: 256 * 1024, log, compactIntervalMs: 0 });
  await backend.open();
  const server = await startNodeServer(backend, "127.0.0.1", 0, { id: "bench", chunkSize: 256 * 1024, log });
  let cpuMark = process.cpuUsage();
  process.on("message", async (m: string) => {
    if (m === "mark") {
      cpuMark = process.cpuUsage();
      process.send!({ ok: true });
    }
    if (m === "cpu") {
      const c = process.cpuUsage(cpuMark);
      process.send!({ cpuUs: c.user + c.system });
    }
    if (m === "stop") {
      await server.stop(100);
      await backend.close();
      await rm(dir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  process.send!({ port: server.port });
}

function ask<T>(child: ChildProcess, msg: string): Promise<T> {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve(m as T));
    child.send(msg);
  });
}

async function bench(): Promise<void> {
  const [inFlight = 64, seconds = 5, size = 4096] = process.argv.slice(2, 5).map(Number);
  const op = process.argv[5] ?? "put";
  const child = fork(__filename, ["serve"]);
  const { port } = await new Promise<{ port: number }>((r) => child.once("message", (m) => r(m as { port: number })));
  const client = new NodeClient("bench", `127.0.0.1:${port}`);
  const data = randomBytes(size);
  const sha = createHash("sha256").update(data).digest();
  let n = 0;
  const ids: string[] = [];
  const lat: number[] = [];
  const runFor = async (ms: number, record: boolean) => {
    const end = Date.now() + ms;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, w) => {
        let i = 0;
        while (Date.now() < end) {
          const t = process.hrtime.bigint();
          if (op === "get" && ids.length) await client.getSmall(ids[(w * 7919 + i++) % ids.length]);
          else {
            const id = `b${w}-${n}-${i++}`;
            await client.putSmall(id, {}, data, sha);
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
  await runFor(1000, false); // warm-up (and, for get, something to read)
  await ask(child, "mark");
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  await runFor(seconds * 1000, true);
  const wall = (Date.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const { cpuUs } = await ask<{ cpuUs: number }>(child, "cpu");
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(2);
  console.log(
    JSON.stringify({
      op,
      size,
      inFlight,
      opsPerSec: Math.round(n / wall),
      clientCpuUsPerOp: +((c.user + c.system) / n).toFixed(1),
      nodeCpuUsPerOp: +(cpuUs / n).toFixed(1),
      p50ms: pct(0.5),
      p99ms: pct(0.99),
    }),
  );
  client.close();
  child.send("stop");
}

if (process.argv[2] === "serve") void serve();
else void bench();
