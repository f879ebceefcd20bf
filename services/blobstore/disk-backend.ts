import { statfs } from "node:fs/promises";
import { getHeapStatistics } from "node:v8";
import { join } from "node:path";
import type { Logger } from "../common/logger";
import type { NodeKind, NodeStats } from "../membership/node-record";
import type { BlobBackend, BlobMeta, BlobReader, BlobVerification, BlobWriter, CompactionStats, WireCheck } from "../rpc/blob-backend";
import { clampRange } from "../rpc/blob-info";
import { verifyByReading } from "../rpc/blob-verify";
import { FileStore } from "./file-store";
import { type SegmentEntry, SegmentStore } from "./segment-store";

export interface DiskBackendOptions {
  dataDir: string;
  chunkSize: number;
  log: Logger;
  kind?: NodeKind;
  /** putSmall bodies above this go to a file of their own instead of a segment. */
  maxSegmentBlobBytes?: number;
  maxSegmentBytes?: number;
  /** How often sealed segments are checked for compaction (0: never, call compact() yourself). */
  compactIntervalMs?: number;
  /** A sealed segment is compacted once its live share drops to this. */
  compactBelowLiveShare?: number;
  /** Small blobs the segment index may hold (SegmentStore's maxBlobs); 0 or absent: from the heap's limit. */
  maxSmallBlobs?: number;
}

/**
 * Heap an index entry takes (`bench/micro/segment-heap.ts`, 2026-12-07: 230 bytes a blob on a
 * storage node, 376 with a trash copy's ten attributes on the delete node), rounded up.
 */
const ENTRY_HEAP_BYTES = { storage: 250, delete: 400 } as const;
/** The share of the heap's limit the index may take; the rest is the node's own work (GC needs room). */
const INDEX_HEAP_SHARE = 0.6;

/**
 * How many small blobs a node of this kind keeps indexed before it refuses more: without a bound, a
 * delete node under ~870 trash moves a second (the overwrite row) reached its heap's limit in under
 * four hours of a 24 h trash TTL and crashed, at every restart too (ARCHITECTURE.md "Known gaps").
 * With V8's default limit here (4,108 MiB): ~10.3 million on a storage node, ~6.5 million on a delete node.
 */
export function defaultMaxSmallBlobs(kind: NodeKind, heapLimitBytes = getHeapStatistics().heap_size_limit): number {
  return Math.floor((heapLimitBytes * INDEX_HEAP_SHARE) / (kind === "delete" ? ENTRY_HEAP_BYTES.delete : ENTRY_HEAP_BYTES.storage));
}

/** Kept back so a full disk can still take deletes' tombstones and compaction's copies (~200,000 tombstones). */
const SEGMENT_RESERVE_BYTES = 16 * 1024 * 1024;
/** How soon compaction runs again while the disk is full. */
const DISK_FULL_COMPACT_MS = 1000;
/**
 * The timer's compactions work at most this share of the wall time (DutyCycle; not while the disk
 * is full). Unpaced, the three storage nodes freed the segments the lifecycle's demotions emptied
 * (~270 MB each) all at once and took 0.9-1.5 cores together for ~10 s, with the trash moves behind
 * them running late by up to 5.5 s (bench/README Step 9).
 */
const COMPACT_DUTY_CYCLE = 0.25;

/**
 * The storage node's disk: small blobs in segment files (group commit), large ones as files.
 * A blob id is looked up in the segment index first, then in the file store.
 */
export class DiskBackend implements BlobBackend {
  readonly kind: NodeKind;
  readonly segments: SegmentStore;
  readonly files: FileStore;
  private readonly maxSegmentBlob: number;
  private compactTimer?: NodeJS.Timeout;

  constructor(private readonly opts: DiskBackendOptions) {
    this.kind = opts.kind ?? "storage";
    this.maxSegmentBlob = opts.maxSegmentBlobBytes ?? 1024 * 1024;
    this.segments = new SegmentStore({
      dir: join(opts.dataDir, "segments"),
      log: opts.log,
      maxSegmentBytes: opts.maxSegmentBytes,
      reserveBytes: SEGMENT_RESERVE_BYTES,
      maxBlobs: opts.maxSmallBlobs || defaultMaxSmallBlobs(this.kind),
    });
    this.files = new FileStore(opts.dataDir, opts.chunkSize);
  }

  async open(): Promise<void> {
    await this.files.open();
    if (!this.files.directIo)
      this.opts.log.info(
        { dataDir: this.opts.dataDir },
        "large blobs go through the page cache: O_DIRECT is not available in the data directory",
      );
    await this.segments.open();
    const every = this.opts.compactIntervalMs ?? 60_000;
    if (every > 0) {
      // While the disk is full, small puts are refused until compaction frees space: look every
      // second then, not once a minute (a boolean a second otherwise).
      const tick = Math.min(every, DISK_FULL_COMPACT_MS);
      // The first one at a random point of the first interval: nodes started together (a cluster,
      // a deploy) would otherwise compact together for good, on the same cores.
      let sinceLast = Math.floor(Math.random() * every);
      this.compactTimer = setInterval(() => {
        sinceLast += tick;
        if (sinceLast < every && !this.segments.diskFull) return;
        sinceLast = 0;
        // Paced always: the store's DutyCycle stops resting by itself while the disk is full.
        this.segments
          .compact(this.opts.compactBelowLiveShare ?? 0.5, { dutyCycle: COMPACT_DUTY_CYCLE })
          .catch((e) => this.opts.log.error({ err: e }, "segment compaction failed"));
      }, tick);
      this.compactTimer.unref();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.compactTimer);
    await this.segments.close();
  }

  beginWrite(blobId: string, attributes: Record<string, string>, check?: WireCheck): Promise<BlobWriter> {
    return this.files.beginWrite(blobId, attributes, check);
  }

  /** `crc32` checks a segment's put (SegmentStore.put); a body for a file of its own is checked by its sha256. */
  async putSmall(blobId: string, attributes: Record<string, string>, data: Buffer, sha256: Buffer, crc32?: number): Promise<BlobMeta> {
    if (data.length <= this.maxSegmentBlob) return this.segments.put(blobId, attributes, data, sha256, crc32);
    const writer = await this.files.beginWrite(blobId, attributes);
    try {
      await writer.write(data);
    } catch (e) {
      await writer.abort();
      throw e;
    }
    return writer.commit(data.length, sha256);
  }

  async read(blobId: string, offset: number, length: number | undefined, chunkBytes?: number): Promise<BlobReader> {
    const entry = this.segments.get(blobId);
    if (!entry) return this.files.read(blobId, offset, length, false, chunkBytes);
    return this.readSegment(blobId, entry, offset, length, false);
  }

  /** `bySha256`: a whole read checked against the sha256 (verify), not the record's crc32s (reads). */
  private async readSegment(
    blobId: string,
    entry: SegmentEntry,
    offset: number,
    length: number | undefined,
    bySha256: boolean,
  ): Promise<BlobReader> {
    const range = clampRange(entry.size, offset, length);
    // readData is called in the same tick as get(): it pins the segment against compaction.
    const data = await this.segments.readData(blobId, entry, range.offset, range.length, bySha256);
    return { meta: this.segments.metaOf(blobId, entry), ...range, chunks: oneChunk(data) };
  }

  async stat(blobId: string): Promise<BlobMeta | null> {
    const entry = this.segments.get(blobId);
    return entry ? this.segments.metaOf(blobId, entry) : this.files.stat(blobId);
  }

  /**
   * A small blob: its segment record's data against the index's sha256; a large one: the whole
   * file, each block against its crc32 and the whole against its sha256 (a read checks the blocks only).
   */
  verify(blobId: string, signal?: AbortSignal): Promise<BlobVerification> {
    const read = (id: string, offset: number, length: number | undefined) => {
      const entry = this.segments.get(id);
      return entry ? this.readSegment(id, entry, offset, length, true) : this.files.read(id, offset, length, true);
    };
    return verifyByReading({ read }, blobId, signal);
  }

  async delete(blobId: string): Promise<boolean> {
    // A blob lives in one place: the in-memory segment index says which, without a syscall.
    if (this.segments.get(blobId)) return this.segments.delete(blobId);
    return this.files.delete(blobId);
  }

  async *list(): AsyncIterable<BlobMeta> {
    yield* this.segments.metas();
    yield* this.files.list();
  }

  compactionStats(): CompactionStats {
    return this.segments.compactionStats();
  }

  smallBlobIndex(): { blobs: number; maxBlobs: number } {
    return { blobs: this.segments.stats().blobCount, maxBlobs: this.segments.maxBlobs };
  }

  async stats(): Promise<NodeStats> {
    const s = this.segments.stats();
    const f = this.files.stats();
    const fs = await statfs(this.opts.dataDir);
    return {
      blobCount: s.blobCount + f.blobCount,
      usedBytes: s.usedBytes + f.usedBytes,
      freeBytes: fs.bavail * fs.bsize,
      unreadableRecords: s.unreadableRecords,
    };
  }
}

async function* oneChunk(data: Buffer): AsyncIterable<Buffer> {
  if (data.length) yield data;
}
