import { ErrorCode, MiniS3Error } from "../../common/errors";
import { Semaphore } from "../../common/semaphore";

/** MINIS3_UPLOAD_BUFFER and MINIS3_UPLOAD_BUFFER_WAIT. */
export interface UploadBufferLimits {
  /** Bytes of upload heads one coordinator process holds at once. */
  bytes: number;
  /** How long an upload waits for room before it is refused (SlowDown). */
  waitMs: number;
}

/** Room an upload holds in the buffer; give it back once, when its head is no longer held. */
export interface BufferRoom {
  release(): void;
}

const NO_ROOM: BufferRoom = { release: () => undefined };

/**
 * The bytes of upload heads a coordinator process holds at once. The engine reads each upload's head
 * (up to a chunk) into memory before it knows the upload is small (stored whole) or large (streamed,
 * bounded by large-upload-gate.ts), so every upload being received held up to a chunk and nothing
 * bounded how many: 1,024 clients each sending 1 MiB at 100 KB/s took a worker from 260 to 442 MiB
 * (bench/README.md "Upload heads, bounded"). Each upload now takes room for its head first, as much as
 * it declares up to a chunk (a chunk when it declares nothing), before any byte of it is read; past the
 * buffer it waits in arrival order, its bytes left in the client's socket, and one that waits longer
 * than `waitMs` is refused with SlowDown (503; S3 clients back off and send it again), nothing stored.
 * Room is taken whole before reading, never grown while reading, so holders always finish.
 */
export class UploadBuffer {
  private readonly room: Semaphore;

  constructor(readonly limits: UploadBufferLimits) {
    this.room = new Semaphore(limits.bytes);
  }

  /** Bytes held by uploads being received. */
  get held(): number {
    return this.room.inUse;
  }

  /** Uploads waiting for room. */
  get waiting(): number {
    return this.room.queued;
  }

  /** Waits for `bytes` of room (the whole buffer at most); the caller must release() it. */
  async take(bytes: number): Promise<BufferRoom> {
    if (bytes <= 0) return NO_ROOM; // an empty body holds nothing, and waits for no one
    if (!(await this.room.acquireWithin(this.limits.waitMs, bytes))) {
      throw new MiniS3Error(
        ErrorCode.SlowDown,
        `this coordinator holds ${this.limits.bytes} bytes of uploads being received (MINIS3_UPLOAD_BUFFER) and this one waited ${this.limits.waitMs} ms for room: send it again later`,
      );
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.room.release(bytes);
      },
    };
  }
}
