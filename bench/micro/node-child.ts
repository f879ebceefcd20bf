import { fork, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { BLOB_NODE_MALLOC_ENV, NODE_ARGS, RUNTIME_ARGS } from "../../deploy/launcher/plan";
import { DiskBackend } from "../../services/blobstore/disk-backend";
import type { NodeClient } from "../../services/rpc/client/node-client";
import { startNodeServer } from "../../services/rpc/server/node-server";

// The micro-benchmarks' storage node: a DiskBackend and a node server in a child process of the
// benchmark's own file, so the node's CPU is measured apart from the client's.

/** The child's side (the benchmark file run with "serve"): answers mark, cpu, delete <id> and stop. */
export async function serveNode(chunkSize: number): Promise<void> {
  const log = pino({ level: "warn" });
  const dir = await mkdtemp(join(tmpdir(), "minis3-bench-"));
  const backend = new DiskBackend({ dataDir: dir, chunkSize, log, compactIntervalMs: 0 });
  await backend.open();
  const server = await startNodeServer(backend, "127.0.0.1", 0, { id: "bench", chunkSize, log });
  let cpuMark = process.cpuUsage();
  let stopping: Promise<never> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await server.stop(100);
      await backend.close();
      await rm(dir, { recursive: true, force: true });
      process.exit(0);
    })());
  // A benchmark that died (an exception, a kill) leaves no node behind holding its temp directory.
  process.once("disconnect", () => void stop());
  process.on("message", async (m: string) => {
    if (m === "mark") {
      cpuMark = process.cpuUsage();
      process.send!({ ok: true });
    } else if (m === "cpu") {
      const c = process.cpuUsage(cpuMark);
      process.send!({ cpuUs: c.user + c.system });
    } else if (m.startsWith("delete ")) {
      await backend.delete(m.slice(7));
      process.send!({ ok: true });
    } else if (m === "stop") {
      await stop();
    }
  });
  process.send!({ port: server.port });
}

/** The benchmark's side: forks `file` with "serve" and talks to the node it starts. */
export class NodeChild {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(file: string): Promise<NodeChild> {
    // Run as the launcher runs a storage node: its V8 flags (body pieces freed, young collections
    // paced) and glibc settings change a large PUT's CPU per MiB.
    const child = fork(file, ["serve"], { execArgv: [...RUNTIME_ARGS, ...NODE_ARGS], env: { ...BLOB_NODE_MALLOC_ENV, ...process.env } });
    const { port } = await new Promise<{ port: number }>((r) => child.once("message", (m) => r(m as { port: number })));
    return new NodeChild(child, port);
  }

  /** Starts counting the node's CPU from now. */
  mark(): Promise<unknown> {
    return this.ask("mark");
  }

  /** The node's CPU since the last mark, in µs. */
  async cpuUs(): Promise<number> {
    return (await this.ask<{ cpuUs: number }>("cpu")).cpuUs;
  }

  delete(blobId: string): Promise<unknown> {
    return this.ask(`delete ${blobId}`);
  }

  stop(): void {
    this.child.send("stop");
  }

  private ask<T>(msg: string): Promise<T> {
    return new Promise((resolve) => {
      this.child.once("message", (m) => resolve(m as T));
      this.child.send(msg);
    });
  }
}

/** Writes `data` to the node as blob `id` in `chunk`-sized pieces, as the coordinator's uploads do. */
export async function writeWhole(client: NodeClient, id: string, data: Buffer, chunk: number): Promise<void> {
  const up = client.writeBlob(id, {});
  for (let at = 0; at < data.length; at += chunk) await up.write(data.subarray(at, at + chunk));
  await up.finish(data.length, createHash("sha256").update(data).digest());
}

/** One timed pass of a micro-benchmark against its node child: the rate and each side's CPU per MiB. */
export interface Pass {
  mbps: number;
  clientMsPerMiB: number;
  nodeMsPerMiB: number;
}

/** Runs `work` (moving `bytes` bytes to or from the node), timing it and both sides' CPU. */
export async function timedPass(node: NodeChild, bytes: number, work: () => Promise<void>): Promise<Pass> {
  await node.mark();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpuUs = await node.cpuUs();
  const mib = bytes / 1024 / 1024;
  return { mbps: bytes / 1e6 / s, clientMsPerMiB: (c.user + c.system) / 1000 / mib, nodeMsPerMiB: cpuUs / 1000 / mib };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Each figure's median over the passes. */
export function medianPass(ps: Pass[]): Pass {
  return {
    mbps: median(ps.map((p) => p.mbps)),
    clientMsPerMiB: median(ps.map((p) => p.clientMsPerMiB)),
    nodeMsPerMiB: median(ps.map((p) => p.nodeMsPerMiB)),
  };
}

export function formatPass(p: Pass): string {
  return `${p.mbps.toFixed(1)} MB/s, client ${p.clientMsPerMiB.toFixed(2)} ms/MiB, node ${p.nodeMsPerMiB.toFixed(2)} ms/MiB`;
}
