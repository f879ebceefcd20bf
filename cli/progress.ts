// A progress bar on stderr for large transfers (cli-progress), only when stderr is a terminal and
// the output is for people: `--json`, `--quiet`, pipes and small objects get none. It counts the
// bytes that pass through a stream; it never holds any of them.
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { SingleBar } from "cli-progress";
import { formatRate, formatSize } from "./format";

/** Below this, a transfer is over before a bar would say anything useful. */
export const PROGRESS_FROM_BYTES = 4 * 1024 * 1024;

export class Progress {
  private bar: SingleBar | undefined;
  private readonly startedAt = Date.now();
  private bytes = 0;

  /** A bar for `total` bytes labelled `label`, or a silent counter when `show` is false. */
  constructor(label: string, total: number | undefined, show: boolean) {
    if (!show || total === undefined || total < PROGRESS_FROM_BYTES || !process.stderr.isTTY) return;
    this.bar = new SingleBar({
      format: `${label} [{bar}] {percentage}% | {value} / {total} | {rate} | ETA {eta_formatted}`,
      formatValue: (v, _o, type) => (type === "value" || type === "total" ? formatSize(v) : String(v)),
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 5,
    });
    this.bar.start(total, 0, { rate: "-" });
  }

  /** A pass-through stream that counts what flows through it (and hashes it, with `hash`). */
  meter(opts: { hash?: boolean } = {}): Meter {
    return new Meter(opts.hash ? createHash("sha256") : undefined, (n) => {
      this.bytes += n;
      this.bar?.update(this.bytes, { rate: formatRate(this.bytes, Date.now() - this.startedAt) });
    });
  }

  /** Removes the bar (on success or failure alike). */
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** Bytes as they pass: counted, optionally hashed, reported. */
export class Meter extends Transform {
  bytes = 0;

  constructor(
    private readonly hash: Hash | undefined,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    this.onBytes(chunk.length);
    done(null, chunk);
  }

  /** The hex sha256 of everything that passed (only once the stream has ended). */
  sha256(): string {
    if (!this.hash) throw new Error("this meter does not hash");
    return this.hash.digest("hex");
  }
}
