/**
 * Micro-benchmark (not a test): many GETs of one large blob at once on a storage node's blob plane,
 * as coordinators relaying many large GETs send them. The node (a DiskBackend and its blob-plane
 * server, `planeReads` chunked GETs streaming at once) runs in a child process; prints its peak RSS
 * during the GETs, the rate of all of them together, the slowest GET's wait for its head, and how
 * many failed. `slowMBps` > 0: each reader takes its bytes at that rate (a coordinator whose client
 * is slow), 0 as fast as it can.
 *
 *   node dist/bench/micro/blob-get-many.js [streams=40] [MiB=64] [planeReads=16] [slowMBps=0]
 */
import { fork } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { DiskBackend } from "../../services/blobstore/disk-backend";
import { BlobHttpClient } from "../../services/rpc/client/blob-http-client";
import { createBlobHttpServer } from "../../services/rpc/server/blob-http-server";

const MIB = 1024 * 1024;

const statusKiB = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync("/proc/self/status", "utf8"))![1]);

/** The child: writes the blob, serves it, answers "mark" (peak RSS reset) and "peak". */
async function serve(mib: number, planeReads: number): Promise<void> {
  const log = pino({ level: "warn" });
  const dir = await mkdtemp(join(tmpdir(), "minis3-bench-"));
  const backend = new DiskBackend({ dataDir: dir, chunkSize: 256 * 1024, log, compactIntervalMs: 0 });
  await backend.open();
  const w = await backend.beginWrite("blob", {});
  const hash = createHash("sha256");
  for (let i = 0; i < mib; i++) {
    const piece = randomBytes(MIB);
    hash.update(piece);
    await w.write(piece);
  }
  await w.commit(mib * MIB, hash.digest());
  const server = createBlobHttpServer(backend, { id: "bench", log, planeReads });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  process.on("message", async (m: string) => {
    if (m === "mark") {
      global.gc?.();
      writeFileSync("/proc/self/clear_refs", "5"); // VmHWM from the RSS now
      process.send!({ rssMiB: statusKiB("VmRSS") / 1024 });
    } else if (m === "peak") {
      process.send!({ peakMiB: statusKiB("VmHWM") / 1024 });
    } else if (m === "stop") {
      server.closeAllConnections();
      server.close();
      await backend.close();
      await rm(dir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  process.send!({ port: (server.address() as AddressInfo).port });
}

async function bench(): Promise<void> {
  const [streams = 40, mib = 64, planeReads = 16, slowMBps = 0] = process.argv.slice(2, 6).map(Number);
  const child = fork(__filename, ["serve", String(mib), String(planeReads)], { execArgv: ["--expose-gc"] });
  const ask = <T>(m: string) =>
    new Promise<T>((resolve) => {
      child.once("message", (r) => resolve(r as T));
      child.send(m);
    });
  const { port } = await new Promise<{ port: number }>((r) => child.once("message", (m) => r(m as { port: number })));
  // The coordinator's deadlines (first answer 10 s, then 10 s per silence).
  const client = new BlobHttpClient("bench", `127.0.0.1:${port}`, { deadlineMs: 10_000, idleMs: 10_000, commitMs: 60_000 });
  const { rssMiB } = await ask<{ rssMiB: number }>("mark");
  let failed = 0;
  let slowestHeadMs = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      try {
        const asked = performance.now();
        const r = await client.read("blob", 0, undefined);
        slowestHeadMs = Math.max(slowestHeadMs, performance.now() - asked);
        const began = performance.now();
        let got = 0;
        for await (const c of r.chunks) {
          got += c.length;
          r.recycle?.(c);
          const due = began + (got / 1e6 / slowMBps) * 1000;
          if (slowMBps > 0 && due > performance.now()) await new Promise((w) => setTimeout(w, due - performance.now()));
        }
        if (got !== mib * MIB) throw new Error(`read ${got} bytes`);
      } catch (e) {
        failed++;
        if (failed === 1) console.log(`first failure: ${(e as Error).message}`);
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const { peakMiB } = await ask<{ peakMiB: number }>("peak");
  console.log(
    `${streams} x ${mib} MiB, planeReads ${planeReads}, slowMBps ${slowMBps}: node RSS ${rssMiB.toFixed(1)} -> peak ${peakMiB.toFixed(1)} MiB, ` +
      `${(((streams - failed) * mib * 1.048576) / s).toFixed(1)} MB/s in all, ${s.toFixed(2)} s, slowest head ${slowestHeadMs.toFixed(0)} ms, ${failed} failed`,
  );
  client.close();
  child.send("stop");
}

if (process.argv[2] === "serve") void serve(Number(process.argv[3]), Number(process.argv[4]));
else void bench();
