import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy a test owns, between one client and a real server (Redis, MariaDB), to give that
 * client alone a network fault: `cut()` closes every connection and refuses new ones until
 * `restore()`; `delay(ms)` holds each chunk the client sends for `ms` before the server gets it
 * (in order: a slow link, where a request may run after the client stopped waiting for it);
 * `loseAnswerTo(match)` lets the next request `match` recognises through and, when the server
 * answers it, closes that connection instead of passing the answer on (done, never heard of).
 */
export class TcpProxy {
  private server?: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly held = new Set<NodeJS.Timeout>();
  private cutOff = false;
  private delayMs = 0;
  private answerToLose?: (chunk: Buffer) => boolean;
  /** Answers lost by loseAnswerTo so far. */
  lostAnswers = 0;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  cut(): void {
    this.cutOff = true;
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    for (const t of this.held) clearTimeout(t);
    this.held.clear();
  }

  delay(ms: number): void {
    this.delayMs = ms;
  }

  loseAnswerTo(match: (chunk: Buffer) => boolean): void {
    this.answerToLose = match;
  }

  restore(): void {
    this.cutOff = false;
    this.delayMs = 0;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    if (this.cutOff) {
      client.destroy();
      return;
    }
    const upstream = createConnection(this.targetPort, this.targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    let lastDue = 0; // chunks keep their order when the delay changes
    let loseAnswer = false;
    client.on("data", (chunk: Buffer) => {
      if (this.answerToLose?.(chunk)) {
        this.answerToLose = undefined;
        loseAnswer = true;
      }
      const now = Date.now();
      const due = Math.max(now + this.delayMs, lastDue);
      lastDue = due;
      if (due <= now) upstream.write(chunk);
      else {
        const t = setTimeout(() => {
          this.held.delete(t);
          upstream.write(chunk);
        }, due - now);
        this.held.add(t);
      }
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!loseAnswer) return void client.write(chunk);
      this.lostAnswers++;
      close();
    });
  }
}
