import { spawn, type ChildProcess } from "node:child_process";
import { findFreePortBlock } from "../../deploy/launcher/ports";
import { waitFor } from "./wait";
import { createConnection } from "node:net";
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
    await waitFor(
      "private Redis answering",
      () =>
        new Promise<boolean>((resolve) => {
          const s = createConnection(this.port, "127.0.0.1");
          s.once("connect", () => (s.end(), resolve(true)));
          s.once("error", () => resolve(false));
        }),
      10_000,
      50,
    );
  }

  async stop(): Promise<void> {
    await stopChild(this.proc);
  }
}
