import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { findFreePortBlock } from "../../deploy/launcher/ports";
import { waitFor } from "./wait";
import { stopChild } from "./stop-child";

// A redis-server of a test's own (its own port, no persistence), for tests that stop and start
// Redis. The shared server on 6379 is never touched.
export class PrivateRedis {
  private proc?: ChildProcess;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async create(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await findFreePortBlock(1));
    await redis.start();
    return redis;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    const proc = (this.proc = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    ));
    proc.on("exit", () => {
      if (this.proc === proc) this.proc = undefined;
    });
    // Its own answer, not some other process's: between a stop and a start another test may take the
    // port (it is free then), and this redis-server then exits at once, unable to bind it.
    await waitFor(
      "private Redis answering",
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server exited at start: port ${this.port} taken?`);
        return (await pong(this.port)) && proc.exitCode === null;
      },
      10_000,
      50,
    );
  }

  async stop(): Promise<void> {
    await stopChild(this.proc);
  }
}

/** Whether a Redis answers PING on 127.0.0.1:port (one try, no retries). */
async function pong(port: number): Promise<boolean> {
  const redis = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    connectTimeout: 1000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
