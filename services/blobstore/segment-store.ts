import { fdatasyncSync, readSync, writevSync } from "node:fs";
import { createHash } from "node:crypto";
import { mkdir, open, readdir, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ErrorCode, IntegrityError, MiniS3Error } from "../common/errors";
import type { Logger } from "../common/logger";
import type { BlobMeta } from "../rpc/blob-backend";
import { fsyncDir } from "./fsync-dir";
import { GroupWritePolicy } from "./group-write-policy";
import { encodeRecord, PUT, TOMBSTONE } from "./segment-record";
import { scanSegment, type ScannedRecord } from "./segment-scanner";

/** Reads up to this size are done synchronously (see readData). */
const SYNC_READ_MAX = 64 * 1024;

/** One segment file. Reads hold `readers` so a compacted segment is closed only once they finish. */
export class Segment {
  readers = 0;
  liveBytes = 0;
  retired = false;
  constructor(
    readonly id: number,
    readonly path: string,
    readonly fd: FileHandle,
    public size: number,
  ) {}

  async closeIfUnused(): Promise<void> {
    if (this.retired && this.readers === 0) await this.fd.close().catch(() => undefined);
  }
}

/** Where a live small blob is, and its meta (kept in memory: stat and list never touch the disk). */
export interface SegmentEntry {
  segment: Segment;
  offset: number;
  recordLength: number;
  dataStart: number;
  size: number;
  sha256: Buffer;
  storedAtMs: number;
  attributes: Record<string, string>;
  seq: number;
}

/** A record waiting for the next group write; apply() runs once it is durable, in append order. */
interface PendingAppend {
  iov: Buffer[];
  length: number;
  apply(segment: Segment, offset: number): void;
  fail(e: Error): void;
}

export interface SegmentStoreOptions {
  dir: string;
  log: Logger;
  /** A segment is sealed and a new one started past this size. */
  maxSegmentBytes?: number;
  /** Bytes written by one writev + fdatasync at most. */
  maxGroupBytes?: number;
}

const SEGMENT_NAME = /^(\d{8})\.seg$/;

/**
 * Small blobs appended to segment files. Puts and deletes queue up while the previous group is
 * being synced and then go out as ONE writev + ONE fdatasync (group commit); each resolves only
 * after its group's sync. Small groups are written and synced from the event loop (GroupWritePolicy). The index (blob id -> place and meta) lives in memory and is rebuilt
 * at open by scanning the segments; a torn tail left by a crash is cut off.
 */
export class SegmentStore {
  private readonly index = new Map<string, SegmentEntry>();
  private readonly segments = new Map<number, Segment>();
  private active!: Segment;
  private nextSeq = 1;
  private queue: PendingAppend[] = [];
  private writing = false;
  private writeLoopDone: Promise<void> = Promise.resolve();
  private compacting: Promise<unknown> = Promise.resolve();
  private closed = false;
  private totalBytes = 0;
  private readonly writePolicy = new GroupWritePolicy();
  private readonly maxSegmentBytes: number;
  private readonly maxGroupBytes: number;

  constructor(private readonly opts: SegmentStoreOptions) {
    this.maxSegmentBytes = opts.maxSegmentBytes ?? 256 * 1024 * 1024;
    this.maxGroupBytes = opts.maxGroupBytes ?? 8 * 1024 * 1024;
  }

  async open(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    const ids = (await readdir(this.opts.dir))
      .map((n) => SEGMENT_NAME.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const tombstones = new Map<string, number>();
    for (const [i, id] of ids.entries()) {
      const path = this.pathOf(id);
      const fd = await open(path, "r+");
      const segment = new Segment(id, path, fd, 0);
      const scan = await scanSegment(fd, (r) => this.replay(segment, r, tombstones));
      segment.size = scan.fileSize;
      if (scan.problem) {
        if (i === ids.length - 1) {
          // Only the last segment was being appended to: what follows the last good record is a torn write.
          this.opts.log.warn(
            { segment: path, at: scan.goodEnd, cut: scan.fileSize - scan.goodEnd, why: scan.problem },
            "truncating torn segment tail",
          );
          await fd.truncate(scan.goodEnd);
          await fd.sync();
          segment.size = scan.goodEnd;
        } else {
          this.opts.log.error(
            { segment: path, at: scan.goodEnd, why: scan.problem },
            "corrupt record in a sealed segment; later records in it are ignored",
          );
        }
      }
      this.segments.set(id, segment);
      this.totalBytes += segment.size;
    }
    for (const e of this.index.values()) e.segment.liveBytes += e.recordLength;
    const last = ids.length ? this.segments.get(ids[ids.length - 1])! : undefined;
    this.active = last && last.size < this.maxSegmentBytes ? last : await this.createSegment((last?.id ?? 0) + 1);
  }

  /** Waits for queued writes and a running compaction, then closes every segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.compacting.catch(() => undefined);
    await this.writeLoopDone;
    for (const s of this.segments.values()) {
      s.retired = true;
      await s.closeIfUnused();
    }
  }

  get(blobId: string): SegmentEntry | undefined {
    return this.index.get(blobId);
  }

  metaOf(blobId: string, e: SegmentEntry): BlobMeta {
    return { blobId, size: e.size, sha256: e.sha256, storedAtMs: e.storedAtMs, attributes: e.attributes };
  }

  *metas(): IterableIterator<BlobMeta> {
    for (const [id, e] of this.index) yield this.metaOf(id, e);
  }

  stats(): { blobCount: number; usedBytes: number; segmentCount: number } {
    return { blobCount: this.index.size, usedBytes: this.totalBytes, segmentCount: this.segments.size };
  }

  /** Appends a small blob; resolves once its group is durable. IntegrityError if data does not hash to sha256. */
  put(blobId: string, attributes: Record<string, string>, data: Buffer, sha256: Buffer): Promise<BlobMeta> {
    if (!createHash("sha256").update(data).digest().equals(sha256)) {
      return Promise.reject(new IntegrityError(`blob ${blobId}: sha256 does not match the data`));
    }
    const seq = this.nextSeq++;
    const storedAtMs = Date.now();
    const rec = encodeRecord({ type: PUT, blobId, attributes, seq, storedAtMs, sha256, data });
    return new Promise<BlobMeta>((resolve, reject) => {
      this.enqueue({
        iov: rec.iov,
        length: rec.length,
        apply: (segment, offset) => {
          const entry: SegmentEntry = {
            segment,
            offset,
            recordLength: rec.length,
            dataStart: offset + rec.dataStart,
            size: data.length,
            sha256,
            storedAtMs,
            attributes,
            seq,
          };
          this.install(blobId, entry);
          resolve(this.metaOf(blobId, entry));
        },
        fail: reject,
      });
    });
  }

  /** Appends a tombstone (durable) then drops the blob from the index. False if there was none. */
  async delete(blobId: string): Promise<boolean> {
    if (!this.index.has(blobId)) return false;
    const seq = this.nextSeq++;
    const rec = encodeRecord({ type: TOMBSTONE, blobId, attributes: {}, seq, storedAtMs: Date.now() });
    await new Promise<void>((resolve, reject) => {
      this.enqueue({
        iov: rec.iov,
        length: rec.length,
        apply: () => {
          const cur = this.index.get(blobId);
          if (cur && cur.seq < seq) {
            this.index.delete(blobId);
            cur.segment.liveBytes -= cur.recordLength;
          }
          resolve();
        },
        fail: reject,
      });
    });
    return true;
  }

  /** Reads `length` bytes of a blob's data from `offset`; a whole read is checked against the sha256. */
  async readData(blobId: string, entry: SegmentEntry, offset: number, length: number): Promise<Buffer> {
    const segment = entry.segment;
    segment.readers++;
    try {
      const buf = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        // Small reads are synchronous: they come from the page cache (recent writes) in a few µs,
        // where a thread-pool round trip costs a wake-up of the event loop each.
        const { bytesRead } =
          length - filled <= SYNC_READ_MAX
            ? { bytesRead: readSync(segment.fd.fd, buf, filled, length - filled, entry.dataStart + offset + filled) }
            : await segment.fd.read(buf, filled, length - filled, entry.dataStart + offset + filled);
        if (bytesRead === 0) throw new IntegrityError(`blob ${blobId}: segment ${segment.id} is truncated`);
        filled += bytesRead;
      }
      if (offset === 0 && length === entry.size && !createHash("sha256").update(buf).digest().equals(entry.sha256)) {
        throw new IntegrityError(`blob ${blobId} failed its sha256 check`);
      }
      return buf;
    } finally {
      segment.readers--;
      await segment.closeIfUnused();
    }
  }

  /**
   * Rewrites sealed segments whose live share fell to `maxLiveShare` or below: live records are
   * appended again (same bytes, same seq) to the active segment, then the old file is removed.
   * Returns the number of segments compacted.
   */
  compact(maxLiveShare = 0.5): Promise<number> {
    const run = this.compacting
      .catch(() => undefined)
      .then(async () => {
        let done = 0;
        for (const s of [...this.segments.values()]) {
          if (this.closed) break;
          if (s === this.active || s.size === 0 || s.liveBytes / s.size > maxLiveShare) continue;
          await this.compactSegment(s);
          done++;
        }
        return done;
      });
    this.compacting = run;
    return run;
  }

  private async compactSegment(old: Segment): Promise<void> {
    const olderExists = [...this.segments.keys()].some((id) => id < old.id);
    let inFlight: Promise<void>[] = [];
    let inFlightBytes = 0;
    const scan = await scanSegment(old.fd, async (r, bytes) => {
      const cur = r.type === PUT ? this.index.get(r.blobId) : undefined;
      const livePut = cur !== undefined && cur.segment === old && cur.offset === r.offset;
      // A tombstone still matters while an older segment may hold the put it cancels.
      if (!livePut && !(r.type === TOMBSTONE && olderExists)) return;
      inFlight.push(this.relocate(r, Buffer.from(bytes), old));
      inFlightBytes += r.recordLength;
      if (inFlightBytes >= this.maxGroupBytes) {
        await Promise.all(inFlight);
        inFlight = [];
        inFlightBytes = 0;
      }
    });
    await Promise.all(inFlight);
    if (scan.problem) this.opts.log.warn({ segment: old.path, why: scan.problem }, "compaction stopped at a bad record");
    this.segments.delete(old.id);
    this.totalBytes -= old.size;
    old.retired = true;
    await unlink(old.path);
    await fsyncDir(this.opts.dir);
    await old.closeIfUnused();
    this.opts.log.info({ segment: old.path }, "segment compacted");
  }

  private relocate(r: ScannedRecord, bytes: Buffer, from: Segment): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.enqueue({
        iov: [bytes],
        length: bytes.length,
        apply: (segment, offset) => {
          const cur = this.index.get(r.blobId);
          // Moved only if still the same record: a delete or a newer put meanwhile wins.
          if (r.type === PUT && cur && cur.segment === from && cur.offset === r.offset) {
            this.index.set(r.blobId, { ...cur, segment, offset, dataStart: offset + r.dataStart });
            from.liveBytes -= r.recordLength;
            segment.liveBytes += r.recordLength;
          }
          resolve();
        },
        fail: reject,
      });
    });
  }

  /** Rebuild: the highest seq of each id wins, whatever segment it is in. */
  private replay(segment: Segment, r: ScannedRecord, tombstones: Map<string, number>): void {
    if (r.seq >= this.nextSeq) this.nextSeq = r.seq + 1;
    const cur = this.index.get(r.blobId);
    if (r.type === TOMBSTONE) {
      if ((tombstones.get(r.blobId) ?? 0) < r.seq) tombstones.set(r.blobId, r.seq);
      if (cur && cur.seq < r.seq) this.index.delete(r.blobId);
      return;
    }
    if ((tombstones.get(r.blobId) ?? 0) > r.seq || (cur && cur.seq >= r.seq)) return;
    this.index.set(r.blobId, {
      segment,
      offset: r.offset,
      recordLength: r.recordLength,
      dataStart: r.offset + r.dataStart,
      size: r.dataLength,
      sha256: r.sha256,
      storedAtMs: r.storedAtMs,
      attributes: r.attributes,
      seq: r.seq,
    });
  }

  private install(blobId: string, entry: SegmentEntry): void {
    const cur = this.index.get(blobId);
    if (cur && cur.seq > entry.seq) return; // a newer put already landed; this record is dead
    this.index.set(blobId, entry);
    if (cur) cur.segment.liveBytes -= cur.recordLength;
    entry.segment.liveBytes += entry.recordLength;
  }

  private enqueue(a: PendingAppend): void {
    if (this.closed && !this.writing) {
      a.fail(new MiniS3Error(ErrorCode.StoreUnavailable, "segment store is closed"));
      return;
    }
    this.queue.push(a);
    if (!this.writing) {
      this.writing = true;
      this.writeLoopDone = this.writeLoop();
    }
  }

  /** Group commit: whatever queued up while the previous group was syncing goes out together. */
  private async writeLoop(): Promise<void> {
    try {
      while (this.queue.length) {
        let bytes = 0;
        let n = 0;
        while (n < this.queue.length && (n === 0 || bytes + this.queue[n].length <= this.maxGroupBytes)) bytes += this.queue[n++].length;
        const group = this.queue.splice(0, n);
        await this.writeGroup(group, bytes);
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeGroup(group: PendingAppend[], bytes: number): Promise<void> {
    let segment = this.active;
    let start = segment.size;
    try {
      if (start > 0 && start + bytes > this.maxSegmentBytes) {
        segment = this.active = await this.createSegment(segment.id + 1);
        start = 0;
      }
      await writevAll(
        segment.fd,
        group.flatMap((a) => a.iov),
        start,
        this.writePolicy.writeOnLoop(bytes),
      );
      const syncStart = performance.now();
      if (this.writePolicy.syncOnLoop(bytes)) fdatasyncSync(segment.fd.fd);
      else await segment.fd.datasync();
      this.writePolicy.synced(performance.now() - syncStart);
    } catch (e) {
      // Cut off whatever part of the group reached the file, so the next group starts clean.
      await segment.fd.truncate(start).catch(() => undefined);
      this.opts.log.error({ err: e, segment: segment.path }, "segment write failed");
      const err = new MiniS3Error(ErrorCode.StoreUnavailable, `segment write failed: ${(e as Error).message}`);
      for (const a of group) a.fail(err);
      return;
    }
    segment.size = start + bytes;
    this.totalBytes += bytes;
    let offset = start;
    for (const a of group) {
      a.apply(segment, offset);
      offset += a.length;
    }
  }

  private async createSegment(id: number): Promise<Segment> {
    const path = this.pathOf(id);
    const fd = await open(path, "wx+");
    await fsyncDir(this.opts.dir);
    const segment = new Segment(id, path, fd, 0);
    this.segments.set(id, segment);
    return segment;
  }

  private pathOf(id: number): string {
    return join(this.opts.dir, `${String(id).padStart(8, "0")}.seg`);
  }
}

/** writev until every byte is written (the kernel may write less, e.g. past IOV_MAX buffers). */
async function writevAll(fd: FileHandle, iov: Buffer[], position: number, onLoop: boolean): Promise<void> {
  let rest = iov;
  let at = position;
  while (rest.length) {
    const part = rest.length > 1024 ? rest.slice(0, 1024) : rest;
    const bytesWritten = onLoop ? writevSync(fd.fd, part, at) : (await fd.writev(part, at)).bytesWritten;
    at += bytesWritten;
    let skip = bytesWritten;
    let i = 0;
    while (i < rest.length && skip >= rest[i].length) skip -= rest[i++].length;
    rest = rest.slice(i);
    if (skip > 0) rest = [rest[0].subarray(skip), ...rest.slice(1)];
    if (bytesWritten === 0 && rest.length) throw new Error("writev wrote nothing");
  }
}
