import { createHash, randomBytes, randomInt } from "node:crypto";
import type { Answer, ChaosClient } from "./chaos-client";
import type { History, KeyState } from "./history";

// The checked mixed workload: uploads (small bodies, some larger ones streamed in chunks), overwrites
// of a fixed set of keys, deletes and reads, spread over every front door in turn. Every answer goes
// into the History, which judges reads as they come. At most one operation per key is in flight, so
// "acknowledged before the read started" is simply "the key's last acknowledged operation".

export interface WorkloadOptions {
  /** Key prefix of this run: keys start absent. */
  prefix: string;
  durationMs: number;
  concurrency: number;
  /** Keys overwritten, deleted and read again and again. */
  fixedKeys: number;
  /** Weights of upload : retrieve : delete. */
  mix: { upload: number; retrieve: number; delete: number };
  /** Share of uploads that go to a new key rather than one of the fixed set. */
  newKeyShare: number;
  /** Share of uploads that are large (largeBytes, streamed in chunks), the rest 1–16 KiB. */
  largeShare: number;
  largeBytes: number;
  /**
   * Tries again after a connection reset (the request may or may not have been carried out), on the
   * next front door, up to this many times: what the AWS SDKs do for every request (3 attempts in
   * their standard mode). 0 reports every reset as the client's error.
   */
  retries: number;
  /** Stops early once this returns true (an interrupt). */
  stopped?: () => boolean;
}

export const DEFAULT_WORKLOAD: Omit<WorkloadOptions, "prefix" | "durationMs" | "concurrency"> = {
  fixedKeys: 64,
  mix: { upload: 40, retrieve: 45, delete: 15 },
  newKeyShare: 0.3,
  largeShare: 0.03,
  largeBytes: 1 << 20,
  retries: 2,
};

/**
 * Failures a real S3 client retries: the connection was reset or closed under the request (a
 * coordinator killed with the request in flight, or a keep-alive connection to it reused as it died).
 * Not a refusal (reported as such: no coordinator listened), not a timeout (the client waited long).
 */
const RETRIED = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

export interface OpCounts {
  attempts: number;
  ok: number;
  /** Failed answers (any but ok, and 404 where absence is an answer), by reason, after retries. */
  errors: Record<string, number>;
  /** Operations whose first try failed (what a client that never retries would count as errors). */
  firstTryFailed: number;
  /** Tries again after a reset. */
  retried: number;
}

export interface WorkloadResult {
  elapsedMs: number;
  ops: { upload: OpCounts; retrieve: OpCounts; delete: OpCounts };
  /** All operations, and those that failed as a client sees it (after its retries). */
  operations: number;
  clientErrors: number;
  /** Operations whose first try failed: the client errors without retries. */
  firstTryErrors: number;
}

type OpKind = keyof WorkloadResult["ops"];

const newCounts = (): OpCounts => ({ attempts: 0, ok: 0, errors: {}, firstTryFailed: 0, retried: 0 });

export class Workload {
  private readonly keys: string[] = [];
  private readonly known = new Set<string>();
  private readonly busy = new Set<string>();
  private newKeys = 0;
  private nextDoor = 0;
  private readonly ops = { upload: newCounts(), retrieve: newCounts(), delete: newCounts() };

  constructor(
    private readonly client: ChaosClient,
    private readonly history: History,
    private readonly opts: WorkloadOptions,
  ) {
    for (let i = 0; i < opts.fixedKeys; i++) this.remember(`${opts.prefix}/fixed/${i}`);
  }

  async run(): Promise<WorkloadResult> {
    const started = Date.now();
    const end = started + this.opts.durationMs;
    const worker = async () => {
      while (Date.now() < end && !this.opts.stopped?.()) await this.step();
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, worker));
    const operations = this.ops.upload.attempts + this.ops.retrieve.attempts + this.ops.delete.attempts;
    const ok = this.ops.upload.ok + this.ops.retrieve.ok + this.ops.delete.ok;
    const firstTryErrors = this.ops.upload.firstTryFailed + this.ops.retrieve.firstTryFailed + this.ops.delete.firstTryFailed;
    return { elapsedMs: Date.now() - started, ops: this.ops, operations, clientErrors: operations - ok, firstTryErrors };
  }

  private remember(key: string): void {
    if (this.known.has(key)) return;
    this.known.add(key);
    this.keys.push(key);
  }

  private door(): number {
    return this.nextDoor++ % this.client.targets.length;
  }

  /** A key no other worker is using: a new one, or a random known one. */
  private pickKey(fresh: boolean): string {
    if (fresh) return `${this.opts.prefix}/new/${this.newKeys++}`;
    for (let tries = 0; tries < 8; tries++) {
      const key = this.keys[randomInt(this.keys.length)];
      if (!this.busy.has(key)) return key;
    }
    return `${this.opts.prefix}/new/${this.newKeys++}`;
  }

  private async step(): Promise<void> {
    const { mix } = this.opts;
    const roll = Math.random() * (mix.upload + mix.retrieve + mix.delete);
    const kind: OpKind = roll < mix.upload ? "upload" : roll < mix.upload + mix.retrieve ? "retrieve" : "delete";
    const key = this.pickKey(kind === "upload" && Math.random() < this.opts.newKeyShare);
    if (kind === "upload") this.remember(key);
    this.busy.add(key);
    try {
      if (kind === "upload") await this.upload(key);
      else if (kind === "retrieve") await this.retrieve(key);
      else await this.delete(key);
    } finally {
      this.busy.delete(key);
    }
  }

  /**
   * One operation, tried again after a reset (retries): `unknown` records the outcome of a try that
   * failed so, which stays a "maybe" whatever the next try answers. Counts the operation once.
   */
  private async withRetries<T>(
    kind: OpKind,
    okKinds: Answer<T>["kind"][],
    send: (door: number) => Promise<Answer<T>>,
    unknown: () => void,
  ): Promise<Answer<T>> {
    const c = this.ops[kind];
    c.attempts++;
    let answer = await send(this.door());
    if (!okKinds.includes(answer.kind)) c.firstTryFailed++;
    for (let retry = 0; retry < this.opts.retries && answer.kind === "failed" && RETRIED.has(answer.reason); retry++) {
      unknown();
      c.retried++;
      answer = await send(this.door());
    }
    if (okKinds.includes(answer.kind)) c.ok++;
    else {
      const reason = "reason" in answer ? answer.reason : answer.kind;
      c.errors[reason] = (c.errors[reason] ?? 0) + 1;
    }
    return answer;
  }

  private async upload(key: string): Promise<void> {
    const large = Math.random() < this.opts.largeShare;
    const body = randomBytes(large ? this.opts.largeBytes : randomInt(1024, 16 * 1024 + 1));
    const sent: KeyState = { sha256: createHash("sha256").update(body).digest("hex"), size: body.length };
    this.history.writing(key, sent.sha256);
    const answer = await this.withRetries(
      "upload",
      ["ok"],
      (door) => this.client.upload(door, key, body),
      () => this.history.maybe(key, sent),
    );
    if (answer.kind === "ok") {
      if (answer.value.sha256 !== sent.sha256 || answer.value.size !== sent.size) {
        // Acknowledged, but for other bytes: the coordinator stored something else.
        this.history.violation("wrong", key, `ack ${answer.value.sha256.slice(0, 12)}…`, [`${sent.sha256.slice(0, 12)}…`]);
        this.history.maybe(key, sent);
      } else this.history.writeAcknowledged(key, sent);
    } else if (answer.kind === "refused") this.history.notApplied();
    else this.history.maybe(key, sent);
  }

  private async retrieve(key: string): Promise<void> {
    const answer = await this.withRetries(
      "retrieve",
      ["ok", "absent"],
      (door) => this.client.retrieve(door, key),
      () => undefined,
    );
    if (answer.kind === "ok") this.history.observe(key, { sha256: answer.value.sha256, size: answer.value.size });
    else if (answer.kind === "absent") this.history.observe(key, "absent");
  }

  private async delete(key: string): Promise<void> {
    const answer = await this.withRetries(
      "delete",
      ["ok", "absent"],
      (door) => this.client.delete(door, key),
      () => this.history.maybe(key, "absent"),
    );
    if (answer.kind === "ok") this.history.deleteAcknowledged(key);
    else if (answer.kind === "absent") {
      // NoSuchKey is an answer about the key: it must have been absent (or a maybe-delete landed).
      this.history.observe(key, "absent");
      this.history.deleteAcknowledged(key);
    } else if (answer.kind === "refused") this.history.notApplied();
    else this.history.maybe(key, "absent");
  }
}
