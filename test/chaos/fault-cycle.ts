import type { FaultInjector } from "../../bench/chaos/run";
import { sleep } from "../support/wait";

// The chaos suite's fault injector: one fault every few seconds, in a fixed round (each kind of
// process in turn), each a kill followed by bringing the victim back and waiting until the cluster
// sees it again, so that only one thing is broken at a time (the promise MiniS3 makes: any one
// process may fail).

export interface Fault {
  name: string;
  /** Breaks something and brings it back; resolves once it is back. */
  run(): Promise<void>;
}

export class FaultCycle implements FaultInjector {
  readonly log: string[] = [];
  /** Faults done, by name. */
  readonly done = new Map<string, number>();
  private stopping = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(
    private readonly faults: readonly Fault[],
    private readonly gapMs: number,
    private readonly say: (m: string) => void,
  ) {}

  /** True once every fault ran at least once. */
  get fullRound(): boolean {
    return this.faults.every((f) => this.done.has(f.name));
  }

  start(): void {
    this.loop = this.cycle();
  }

  private async cycle(): Promise<void> {
    for (let i = 0; !this.stopping; i++) {
      await Promise.race([sleep(this.gapMs), new Promise<void>((r) => (this.wake = r))]);
      if (this.stopping) return;
      const fault = this.faults[i % this.faults.length];
      const started = Date.now();
      try {
        await fault.run();
        this.done.set(fault.name, (this.done.get(fault.name) ?? 0) + 1);
        this.note(`${fault.name}: killed and back in ${Date.now() - started} ms`);
      } catch (e) {
        // A fault that could not be undone fails the run through its report, not silently.
        this.note(`${fault.name}: FAILED after ${Date.now() - started} ms: ${(e as Error).message}`);
        throw e;
      }
    }
  }

  private note(line: string): void {
    this.log.push(line);
    this.say(line);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }
}
