import { createHash, randomBytes } from "node:crypto";
import type { Pool } from "mysql2/promise";
import { IntegrityError, InvalidArgumentError, NotFoundError } from "../common/errors";
import type { Logger } from "../common/logger";
import type { NodeStats } from "../membership/node-record";
import type { BlobBackend, BlobMeta, BlobReader, BlobVerification, BlobWriter } from "../rpc/blob-backend";
import { verifyByReading } from "../rpc/blob-verify";
import {
  countComplete,
  deleteBlobs,
  insertWritingCopy,
  selectCompleteCopies,
  selectCompleteCopy,
  selectCompletePage,
  selectUnfinishedCopies,
  type CommitOutcome,
  type CopyWithChunk,
  type HiddenBlob,
} from "./blob-rows";
import { BackupBlobWriter } from "./backup-writer";
import { encodeChunk } from "./chunk-codec";
import { streamRange } from "./chunk-reader";
import { purgeCopy, type CopyKey } from "./chunk-rows";
import { GroupCommit } from "../common/group-commit";
import { commitSmallPuts, type SmallPut } from "./small-put-rows";
import { databaseFreeBytes } from "./database-free-space";
import { UsageCounter } from "./usage-counter";

export const MAX_CHUNK_BYTES = 1024 * 1024;

export interface BackupBackendOptions {
  nodeId: string;
  /** mysql2 pool (sqlPool(ds)): prepared statements over the binary protocol. */
  pool: Pool;
  log: Logger;
  /** Raw bytes per stored chunk; at most 1 MiB (far below max_allowed_packet). */
  chunkBytes?: number;
  /** Chunks of one write compressed and inserted at once. */
  parallelChunks?: number;
  /** How often the blob count and used bytes are recounted from MySQL. */
  usageRecountMs?: number;
}

/** Most small puts in one transaction, and most stored bytes (well under max_allowed_packet). */
const SMALL_BATCH_ITEMS = 64;
const SMALL_BATCH_BYTES = 4 * 1024 * 1024;
const LIST_PAGE = 256;
/**
 * Deletes in one transaction at most. A copy of one chunk (every small blob) is deleted in it
 * outright; larger ones are hidden in it and purged after, a few chunks at a time.
 */
const DELETE_BATCH_ITEMS = 128;
const DELETE_INLINE_CHUNKS = 1;
/** Reads whose copy (and only chunk) are looked up in one query at most, and such queries at once. */
const READ_BATCH_ITEMS = 128;
const READ_BATCHES = 2;
const BLOB_ID_RE = /^[\x21-\x7e]{1,128}$/;

/**
 * The cold tier: blobs as chunk rows in MySQL, compressed when it pays, checked on every read.
 * Keyed by node id, so several backup nodes can share one database.
 */
export class MysqlBackupBackend implements BlobBackend {
  readonly kind = "backup" as const;
  private readonly nodeId: string;
  private readonly pool: Pool;
  private readonly log: Logger;
  private readonly chunkBytes: number;
  private readonly parallelChunks: number;
  private readonly usage: UsageCounter;
  private readonly smallPuts: GroupCommit<SmallPut, CommitOutcome>;
  private readonly deletes: GroupCommit<string, HiddenBlob>;
  private readonly lookups: GroupCommit<string, CopyWithChunk | null>;

  constructor(opts: BackupBackendOptions) {
    this.nodeId = opts.nodeId;
    this.pool = opts.pool;
    this.log = opts.log;
    this.chunkBytes = Math.min(MAX_CHUNK_BYTES, Math.max(1, Math.floor(opts.chunkBytes ?? MAX_CHUNK_BYTES)));
    this.parallelChunks = Math.max(1, opts.parallelChunks ?? 2);
    this.usage = new UsageCounter(
      () => countComplete(this.pool, this.nodeId),
      opts.usageRecountMs ?? 60_000,
      () => databaseFreeBytes(this.pool),
    );
    this.smallPuts = new GroupCommit((puts) => commitSmallPuts(this.pool, this.nodeId, puts), {
      maxBatch: SMALL_BATCH_ITEMS,
      name: "backup_small_put",
      fits: (batch, next) =>
        !batch.some((p) => p.key.blobId === next.key.blobId) && // one copy per id per transaction
        batch.reduce((n, p) => n + (p.chunk?.data.length ?? 0), 0) + (next.chunk?.data.length ?? 0) <= SMALL_BATCH_BYTES,
    });
    // Trash moves and purges delete thousands of small copies a second: one commit for many.
    this.deletes = new GroupCommit((ids) => deleteBlobs(this.pool, this.nodeId, ids, DELETE_INLINE_CHUNKS), {
      maxBatch: DELETE_BATCH_ITEMS,
      name: "backup_delete",
      fits: (batch, next) => !batch.includes(next),
    });
    this.lookups = new GroupCommit((ids) => selectCompleteCopies(this.pool, this.nodeId, ids), {
      maxBatch: READ_BATCH_ITEMS,
      name: "backup_read",
      parallel: READ_BATCHES,
    });
  }

  /** Removes what a crash left behind (unfinished writes, half-done deletes), then counts usage. */
  async open(): Promise<void> {
    const leftovers = await selectUnfinishedCopies(this.pool, this.nodeId);
    for (const copy of leftovers) await purgeCopy(this.pool, copy);
    if (leftovers.length) this.log.info({ copies: leftovers.length }, "removed unfinished cold-tier copies");
    await this.usage.recount();
  }

  /** The pool belongs to the caller; only wait for grouped puts in flight. */
  async close(): Promise<void> {
    await Promise.all([this.smallPuts.idle(), this.deletes.idle()]);
  }

  async beginWrite(blobId: string, attributes: Record<string, string>): Promise<BlobWriter> {
    checkBlobId(blobId);
    const key = this.newCopyKey(blobId);
    await insertWritingCopy(this.pool, key, attributes, Date.now());
    return new BackupBlobWriter({
      pool: this.pool,
      key,
      attributes,
      chunkBytes: this.chunkBytes,
      parallelChunks: this.parallelChunks,
      settle: (k, outcome) => this.settle(k, outcome),
    });
  }

  async putSmall(blobId: string, attributes: Record<string, string>, data: Buffer, sha256: Buffer): Promise<BlobMeta> {
    checkBlobId(blobId);
    if (data.length > this.chunkBytes) {
      // Too big for one chunk row: the streamed path cuts it (same result).
      const w = await this.beginWrite(blobId, attributes);
      await w.write(data);
      return w.commit(data.length, sha256);
    }
    if (!createHash("sha256").update(data).digest().equals(sha256)) {
      throw new IntegrityError(`blob ${blobId}: sha256 mismatch`);
    }
    const key = this.newCopyKey(blobId);
    const meta: BlobMeta = { blobId, size: data.length, sha256, storedAtMs: Date.now(), attributes };
    const chunk = data.length ? await encodeChunk(data) : null;
    const outcome = await this.smallPuts.submit({ key, meta, chunk, chunkSize: this.chunkBytes });
    // Nothing of this copy was written when an identical one was kept: no purge needed.
    return outcome.kind === "kept" ? outcome.meta : this.settle(key, outcome);
  }

  async read(blobId: string, offset: number, length: number | undefined): Promise<BlobReader> {
    const found = await this.lookups.submit(blobId);
    if (!found) throw new NotFoundError(`blob ${blobId} not found on backup node ${this.nodeId}`);
    const { copy, only } = found;
    const size = copy.meta.size;
    const start = Math.min(size, Math.max(0, Math.floor(offset || 0)));
    const len = Math.max(0, Math.min(size - start, length === undefined ? size : Math.floor(length)));
    return { meta: copy.meta, offset: start, length: len, chunks: streamRange(this.pool, this.nodeId, copy, start, len, only) };
  }

  async stat(blobId: string): Promise<BlobMeta | null> {
    return (await selectCompleteCopy(this.pool, this.nodeId, blobId))?.meta ?? null;
  }

  /** Every chunk row against its checksum, and the whole against the sha256 (what a whole read checks). */
  verify(blobId: string, signal?: AbortSignal): Promise<BlobVerification> {
    return verifyByReading(this, blobId, signal);
  }

  async delete(blobId: string): Promise<boolean> {
    const hidden = await this.deletes.submit(blobId);
    if (hidden.existed) this.usage.add(-1, -hidden.size);
    for (const copy of hidden.copies) await this.purgeQuietly(copy);
    return hidden.existed;
  }

  async *list(): AsyncIterable<BlobMeta> {
    let after = "";
    for (;;) {
      const page = await selectCompletePage(this.pool, this.nodeId, after, LIST_PAGE);
      for (const copy of page) yield copy.meta;
      if (page.length < LIST_PAGE) return;
      after = page[page.length - 1].meta.blobId;
    }
  }

  stats(): Promise<NodeStats> {
    return this.usage.current();
  }

  /** After a commit: count the blob, purge what it replaced (or this copy, if an identical one was kept). */
  private async settle(key: CopyKey, outcome: CommitOutcome): Promise<BlobMeta> {
    if (outcome.kind === "kept") {
      await this.purgeQuietly(key);
      return outcome.meta;
    }
    const replacedBytes = outcome.replaced.reduce((n, c) => n + c.size, 0);
    this.usage.add(1 - outcome.replaced.length, outcome.meta.size - replacedBytes);
    for (const copy of outcome.replaced) await this.purgeQuietly(copy);
    return outcome.meta;
  }

  /** The copy is already invisible; if purging fails, the next open() finishes it. */
  private async purgeQuietly(copy: CopyKey): Promise<void> {
    try {
      await purgeCopy(this.pool, copy);
    } catch (e) {
      this.log.warn({ err: e, blobId: copy.blobId, writeId: copy.writeId }, "could not purge a hidden cold-tier copy");
    }
  }

  private newCopyKey(blobId: string): CopyKey {
    return { nodeId: this.nodeId, blobId, writeId: randomBytes(8).toString("hex") };
  }
}

function checkBlobId(blobId: string): void {
  if (!BLOB_ID_RE.test(blobId)) throw new InvalidArgumentError(`blob id must be 1-128 printable ASCII characters`);
}
