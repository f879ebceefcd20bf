/**
 * Micro-benchmark (not a test): the bench client's own CPU per small operation (client.ts), against
 * a trivial HTTP server in a child process that answers as the facade does (a 4 KiB GET body, 200
 * to an upload, 204 to a delete), so only the client's side is measured: its process CPU per op.
 * The client is busy all the time here (the server's answers are cheap), so its figure is lower
 * than in the bench, where it waits on the cluster and wakes per answer.
 *
 *   node dist/bench/micro/small-client.js [inFlight=32] [seconds=5] [size=4096]
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { rememberKeyPair } from "../../deploy/launcher/client-credentials";
import { MiniS3Client } from "../client";
import { loadFor } from "./timed-load";

function serve(size: number): void {
  const body = randomBytes(size);
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method === "GET") res.writeHead(200, { "content-type": "application/octet-stream", "content-length": size }).end(body);
      else
        res
          .writeHead(req.method === "DELETE" ? 204 : 200, { "content-type": "application/json" })
          .end(req.method === "DELETE" ? undefined : "{}");
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, "127.0.0.1", () => process.send!((server.address() as AddressInfo).port));
}

async function bench(): Promise<void> {
  const [inFlight = 32, seconds = 5, size = 4096] = process.argv.slice(2, 5).map(Number);
  const child: ChildProcess = fork(__filename, ["serve", String(size)]);
  const port = await new Promise<number>((r) => child.once("message", (m) => r(Number(m))));
  const origin = `http://127.0.0.1:${port}`;
  // A key pair for it, as the bench has for its cluster: every request carries a bearer token.
  rememberKeyPair([origin], { accessKey: "MS3MICRO000000000000", secretKey: "m".repeat(40) });
  const client = new MiniS3Client(origin, inFlight, 10_000);
  const upload = randomBytes(size);
  let stored: { sha256: string; size: number } | undefined;
  let failed = 0;
  // The mixed phase's 40:50:10, in a fixed order.
  const runFor = (ms: number): Promise<number> =>
    loadFor(ms, inFlight, async (w, i) => {
      const pick = (w + i) % 10;
      const key = `micro/${w}-${i}`;
      const r =
        pick < 4
          ? await client.upload(key, upload, upload.length)
          : pick < 9
            ? await client.retrieve(key, stored)
            : await client.delete(key);
      if (!r.ok) failed++;
    });
  // What the server sends back for a GET, so every GET is verified as the bench verifies it.
  const first = await client.retrieve("probe");
  stored = { sha256: first.sha256!, size: first.bytes };
  if (!first.ok || first.bytes !== size) throw new Error(`probe: ${JSON.stringify(first)}`);
  await runFor(1000); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const ops = await runFor(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const secs = (Date.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      ops,
      opsPerSec: Math.round(ops / secs),
      clientCpuMicrosPerOp: Math.round(((cpu.user + cpu.system) / ops) * 10) / 10,
      userMicrosPerOp: Math.round((cpu.user / ops) * 10) / 10,
      systemMicrosPerOp: Math.round((cpu.system / ops) * 10) / 10,
      failed,
    }),
  );
  await client.close();
  child.kill();
}

if (process.argv[2] === "serve") serve(Number(process.argv[3]));
else void bench();
