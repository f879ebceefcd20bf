import { spawn } from "node:child_process";
import type { FaultInjector } from "./run";

// `npm run chaos -- --kill-cmd CMD`: the user's own fault, run with `sh -c` every interval while the
// workload runs (one at a time: the next waits for the previous to exit). CHAOS_ROUND (1, 2, …) lets
// a script pick another victim each round. Stopping waits for a command still running, so its
// victim is back before the final check (the command is expected to restart what it kills, or a
// supervisor to).

export class CommandFaults implements FaultInjector {
  readonly log: string[] = [];
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private round = 0;
  private stopping = false;

  constructor(
    private readonly command: string,
    private readonly everyMs: number,
    private readonly say: (m: string) => void,
  ) {}

  start(): void {
    this.timer = setTimeout(() => this.tick(), this.everyMs);
  }

  private tick(): void {
    if (this.stopping) return;
    this.running = this.runOnce().finally(() => {
      this.running = undefined;
      if (!this.stopping) this.timer = setTimeout(() => this.tick(), this.everyMs);
    });
  }

  private runOnce(): Promise<void> {
    const round = ++this.round;
    const started = Date.now();
    return new Promise((resolve) => {
      const child = spawn("sh", ["-c", this.command], {
        env: { ...process.env, CHAOS_ROUND: String(round) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      const keep = (b: Buffer) => (output = (output + b.toString()).slice(-2000));
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      const done = (how: string) => {
        const last = output.trim().split("\n").pop() ?? "";
        const line = `round ${round}: ${how} after ${Date.now() - started} ms${last ? `: ${last}` : ""}`;
        this.log.push(line);
        this.say(`fault ${line}`);
        resolve();
      };
      child.on("error", (e) => done(`could not run (${e.message})`));
      child.on("close", (code, signal) => done(signal ? `killed by ${signal}` : `exit ${code}`));
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
