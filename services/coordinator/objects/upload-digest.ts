import { hash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { crc32, CRC32_REQUIRE_EXPRESSION } from "../../common/crc32";
import { ErrorCode, MiniS3Error } from "../../common/errors";
import { BlockChecksums, CHECK_BLOCK } from "../../rpc/block-checksums";

/**
 * What an upload's bytes hash to: sha256 (integrity, kept with every copy and in the catalogue) and
 * md5 (the S3 ETag); for a large upload also the fold of its block crc32s (rpc/block-checksums.ts),
 * for a small one its crc32: what each replica checks the bytes it got by instead of hashing
 * them with sha256 again.
 */
export interface UploadDigest {
  sha256: Buffer;
  etag: string;
  blockCrc?: number;
  crc32?: number;
}

/**
 * Both digests of a body held whole (small uploads: a few µs, not worth a thread hop). crypto.hash's
 * one-shot builds no Hash object (a stream Transform each) per digest: cheaper per 4 KiB body
 * (figures in bench/README.md, "coordhot"), the same bytes out.
 */
export function digestOf(data: Buffer): UploadDigest {
  return { sha256: hash("sha256", data, "buffer"), etag: hash("md5", data, "hex"), crc32: crc32(data) };
}

/**
 * A session's bytes reach the thread in slots of SLOT_BYTES: plain ArrayBuffers, copied into on
 * the event loop (memcpy into warm memory) and transferred, not shared, to the thread, which hashes
 * them and transfers them back. At most SLOTS are away per upload.
 */
const SLOT_BYTES = 256 * 1024;
const SLOTS = 8;
/** Slots kept for the next chunks and uploads (8 MiB). */
const SPARE_SLOTS = 32;

/**
 * The thread's heap holds a few small objects per upload (its hashes, the messages): a 1 MiB young
 * generation instead of V8's default saves its isolate ~2.5 MiB of RSS (a bare process hashing
 * 512 MiB in 256 KiB slots, 2026-12-02: +19.3/19.5 MiB with the defaults, +16.6/16.8 with these),
 * at no measurable cost per slot. The old-generation cap is a bound, not a reservation: the thread
 * needs well under 1 MiB of it.
 */
export const DIGEST_THREAD_LIMITS = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16, stackSizeMb: 1 } as const;

/**
 * The thread's code, as source rather than a file next to this one, so it runs the same from
 * dist/ and under jest's TypeScript transform (BlockChecksums as its compiled source). One sha256 +
 * md5 pair and one table of block crc32s per upload id; each slot goes back once hashed.
 */
const THREAD_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const crc32 = ${CRC32_REQUIRE_EXPRESSION};
const BlockChecksums = (${BlockChecksums.toString()});
const running = new Map();
parentPort.on("message", (m) => {
  if (m.start) {
    running.set(m.id, { sha: createHash("sha256"), md5: createHash("md5"), blocks: new BlockChecksums(crc32, ${CHECK_BLOCK}) });
    return;
  }
  const h = running.get(m.id);
  if (m.slot) {
    if (h) {
      const bytes = new Uint8Array(m.slot, 0, m.length);
      h.sha.update(bytes);
      h.md5.update(bytes);
      h.blocks.update(bytes);
    }
    parentPort.postMessage(h ? { id: m.id, slot: m.slot } : { id: m.id, slot: m.slot, error: "unknown upload" }, [m.slot]);
  } else if (m.end) {
    running.delete(m.id);
    parentPort.postMessage(h ? { id: m.id, sha256: h.sha.digest(), etag: h.md5.digest("hex"), blockCrc: h.blocks.fold() } : { id: m.id, error: "unknown upload" });
  } else if (m.cancel) {
    running.delete(m.id);
  }
});
`;

type Reply = { id: number; slot?: ArrayBuffer; sha256?: Uint8Array; etag?: string; blockCrc?: number; error?: string };
type Message = { id: number; start?: true; slot?: ArrayBuffer; length?: number; end?: true; cancel?: true };

/**
 * Hashes large uploads on a worker thread. md5 and sha256 of 64 MiB cost ~125 ms of CPU, which on
 * the event loop is time no other request gets and no byte moves; on a thread it overlaps the
 * upload's own I/O. Each chunk is copied into a slot that travels to the thread and back, so
 * memory stays bounded whatever the thread's pace. (Sharing memory instead was tried: a
 * SharedArrayBuffer lives until the thread's GC lets go, which it seldom runs, and V8 copies into
 * shared memory with relaxed atomics, ~3x slower than memcpy.)
 */
export class DigestThread {
  private worker?: Worker;
  private readonly sessions = new Map<number, DigestSession>();
  private readonly spareSlots: ArrayBuffer[] = [];
  private nextId = 1;

  start(): DigestSession {
    const session = new DigestSession(this.nextId++, this);
    this.sessions.set(session.id, session);
    this.post({ id: session.id, start: true });
    return session;
  }

  /** @internal */ post(message: Message): void {
    this.thread().postMessage(message, message.slot ? [message.slot] : []);
  }

  /** @internal */ takeSlot(): ArrayBuffer {
    return this.spareSlots.pop() ?? new ArrayBuffer(SLOT_BYTES);
  }

  /** @internal */ returnSlot(slot: ArrayBuffer): void {
    if (slot.byteLength === SLOT_BYTES && this.spareSlots.length < SPARE_SLOTS) this.spareSlots.push(slot);
  }

  /** The heap limits the running thread has (undefined before the first upload starts it). */
  get threadLimits(): Worker["resourceLimits"] | undefined {
    return this.worker?.resourceLimits;
  }

  /** @internal */ done(id: number): void {
    this.sessions.delete(id);
  }

  /** Stops the thread; uploads still being hashed fail. */
  close(): Promise<number> | undefined {
    const w = this.worker;
    this.worker = undefined;
    this.failAll(new MiniS3Error(ErrorCode.DigestFailed, "hashing the upload failed: the digest thread was stopped"));
    return w?.terminate();
  }

  private failAll(failure: Error): void {
    for (const s of [...this.sessions.values()]) s.fail(failure);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(THREAD_SOURCE, { eval: true, resourceLimits: DIGEST_THREAD_LIMITS });
    w.unref(); // never what keeps the process alive
    w.on("message", (m: Reply) => {
      if (m.slot) this.returnSlot(m.slot);
      this.sessions.get(m.id)?.reply(m);
    });
    const broken = (e: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined; // the next upload starts a new thread
      // The uploads it was hashing fail as the server's trouble (503), not as a bug (500).
      this.failAll(new MiniS3Error(ErrorCode.DigestFailed, `hashing the upload failed: ${e.message}`));
    };
    w.on("error", broken);
    w.on("exit", (code) => broken(new Error(`the digest thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }
}

/** One upload's digests, computed on the thread in the order its bytes were given. */
export class DigestSession {
  private away = 0;
  private wake?: () => void;
  private result?: { resolve: (d: UploadDigest) => void; reject: (e: Error) => void };
  private failure?: Error;
  private ended = false;

  constructor(
    readonly id: number,
    private readonly owner: DigestThread,
  ) {}

  /** Queues bytes for hashing; waits only while SLOTS are away. The chunk may be reused once this resolves. */
  async update(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length; at += SLOT_BYTES) {
      while (this.away === SLOTS && !this.failure)
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      if (this.failure) throw this.failure;
      const slot = this.owner.takeSlot();
      const piece = chunk.subarray(at, Math.min(chunk.length, at + SLOT_BYTES));
      new Uint8Array(slot).set(piece);
      this.away++;
      this.owner.post({ id: this.id, slot, length: piece.length });
    }
  }

  finish(): Promise<UploadDigest> {
    if (this.failure) return Promise.reject(this.failure);
    this.ended = true;
    return new Promise<UploadDigest>((resolve, reject) => {
      this.result = { resolve, reject };
      this.owner.post({ id: this.id, end: true });
    });
  }

  /** The upload failed: drop its state on the thread. */
  cancel(): void {
    if (this.ended || this.failure) return;
    this.ended = true;
    this.owner.done(this.id);
    try {
      this.owner.post({ id: this.id, cancel: true });
    } catch {
      /* the thread is gone with its state */
    }
  }

  /** @internal */ reply(m: Reply): void {
    if (m.error !== undefined) {
      this.fail(new MiniS3Error(ErrorCode.DigestFailed, `hashing the upload failed: ${m.error}`));
      return;
    }
    if (m.sha256 !== undefined) {
      this.owner.done(this.id);
      this.result?.resolve({
        sha256: Buffer.from(m.sha256.buffer, m.sha256.byteOffset, m.sha256.byteLength),
        etag: m.etag!,
        blockCrc: m.blockCrc,
      });
      return;
    }
    this.away--;
    this.wakeUp();
  }

  /** @internal */ fail(e: Error): void {
    this.failure = e;
    this.owner.done(this.id);
    this.result?.reject(e);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
