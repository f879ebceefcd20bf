import { createHash } from "node:crypto";
import type { Pool } from "mysql2/promise";
import { AbortedError, IntegrityError } from "../common/errors";
import type { BlobMeta, BlobWriter } from "../rpc/blob-backend";
import { commitCopy, type CommitOutcome } from "./blob-rows";
import { BoundedTasks } from "./bounded-tasks";
import { encodeChunk } from "./chunk-codec";
import { insertChunk, purgeCopy, type CopyKey } from "./chunk-rows";

export interface WriterDeps {
  pool: Pool;
  key: CopyKey;
  attributes: Record<string, string>;
  /** Raw bytes per stored chunk (≤ 1 MiB). */
  chunkBytes: number;
  /** Chunks compressed/inserted at once: overlaps compression with the round trip to MySQL. */
  parallelChunks: number;
  /** Turns a commit outcome into the visible blob's meta (stats, purging replaced copies). */
  settle(key: CopyKey, outcome: CommitOutcome): Promise<BlobMeta>;
}

/**
 * One write into the cold tier. Bytes are cut into chunks of exactly chunkBytes (the last may be
 * shorter) in a staging buffer the writer owns, so callers may reuse their buffers once write()
 * resolves. Memory: one staging chunk plus `parallelChunks` chunks being stored.
 */
export class BackupBlobWriter implements BlobWriter {
  private staging: Buffer | undefined;
  private filled = 0;
  private size = 0;
  private chunkCount = 0;
  private readonly hash = createHash("sha256");
  private readonly tasks: BoundedTasks;
  private state: "open" | "closing" | "closed" = "open";

  constructor(private readonly deps: WriterDeps) {
    this.tasks = new BoundedTasks(deps.parallelChunks);
  }

  async write(chunk: Buffer): Promise<void> {
    this.ensureOpen();
    this.hash.update(chunk);
    this.size += chunk.length;
    const { chunkBytes } = this.deps;
    let pos = 0;
    while (pos < chunk.length) {
      // allocUnsafe: a large allocation's pages are only committed as they are written.
      this.staging ??= Buffer.allocUnsafe(chunkBytes);
      const n = chunk.copy(this.staging, this.filled, pos, Math.min(chunk.length, pos + chunkBytes - this.filled));
      this.filled += n;
      pos += n;
      if (this.filled === chunkBytes) await this.flush();
    }
  }

  async commit(expectedSize: number, expectedSha256: Buffer): Promise<BlobMeta> {
    this.ensureOpen();
    this.state = "closing";
    const { key } = this.deps;
    try {
      if (this.filled > 0) await this.flush();
      await this.tasks.drain();
      const sha256 = this.hash.digest();
      if (this.size !== expectedSize) {
        throw new IntegrityError(`blob ${key.blobId}: received ${this.size} bytes, sender says ${expectedSize}`);
      }
      if (!sha256.equals(expectedSha256)) throw new IntegrityError(`blob ${key.blobId}: sha256 mismatch`);
      const outcome = await commitCopy(this.deps.pool, key, {
        size: this.size,
        sha256,
        chunkCount: this.chunkCount,
        chunkSize: this.deps.chunkBytes,
        attributes: this.deps.attributes,
        storedAtMs: Date.now(),
      });
      this.state = "closed";
      return await this.deps.settle(key, outcome);
    } catch (e) {
      if (this.state !== "closed") await this.discard();
      throw e;
    }
  }

  async abort(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "closing";
    await this.discard();
  }

  private async flush(): Promise<void> {
    const raw = this.staging!.subarray(0, this.filled);
    const seq = this.chunkCount++;
    this.staging = undefined;
    this.filled = 0;
    const { pool, key } = this.deps;
    await this.tasks.submit(async () => insertChunk(pool, key, seq, await encodeChunk(raw)));
  }

  /** Drops everything written (the copy was never visible). */
  private async discard(): Promise<void> {
    this.state = "closed";
    this.staging = undefined;
    await this.tasks.settle();
    await purgeCopy(this.deps.pool, this.deps.key);
  }

  private ensureOpen(): void {
    if (this.state !== "open") throw new AbortedError(`write of blob ${this.deps.key.blobId} is already finished`);
  }
}
