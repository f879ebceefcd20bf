import { fdatasyncSync, readSync, writevSync } from "node:fs";
import { hash } from "node:crypto";
import { mkdir, open, readdir, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { crc32 } from "../common/crc32";
import { setImmediate as loopTurn } from "node:timers/promises";
import { ErrorCode, IntegrityError, InvalidArgumentError, MiniS3Error, NotFoundError } from "../common/errors";
import type { Logger } from "../common/logger";
import type { BlobMeta, CompactionStats } from "../rpc/blob-backend";
import { DutyCycle } from "./duty-cycle";
import { fsyncDir } from "./fsync-dir";
import { GroupWritePolicy } from "./group-write-policy";
import { isNoSpace, SpaceReserve } from "./segment-reserve";
import { decodeHeader, encodeRecord, PUT, RECORD_MAGIC_V1, storedDataCrc, TOMBSTONE } from "./segment-record";
import { attributesOf, packMeta, sha256Of, storedAtOf } from "./segment-meta";
import { readRecordsAt, scanSegment, type RecordPlace, type ScannedRecord, type SkippedRange } from "./segment-scanner";

/** Index entries walked between two turns of the event loop (livePlaces). */
const WALK_TURN = 65_536;

/** Reads up to this size are done synchronously (see readData). */
const SYNC_READ_MAX = 64 * 1024;

/** One segment file. Reads hold `readers` so a compacted segment is closed only once they finish. */
export class Segment {
  readers = 0;
  /** Bytes of the puts the index points at here. */
  putBytes = 0;
  /** Bytes of tombstones here that compaction must carry forward, by the segment holding what they cancel. */
  readonly tombstoneBytes = new Map<number, number>();
  /**
   * How many tombstones here name each other segment: every one a tombstone names, where
   * `tombstoneBytes` counts only the first (a share, not a proof). While none of these segments is
   * left, no tombstone here is needed, and compaction reads only the live puts the index points at.
   */
  readonly tombstoneRefs = new Map<number, number>();
  /** Holds a version-1 tombstone: it names no segment, so any older one may hold what it cancels. */
  legacyTombstones = false;
  /** What the last scan of this file could not read. */
  unreadable: SkippedRange[] = [];
  retired = false;
  closed = false;
  constructor(
    readonly id: number,
    readonly path: string,
    readonly fd: FileHandle,
    public size: number,
  ) {}

  /** What compaction would have to copy: live puts and tombstones still needed. */
  get liveBytes(): number {
    let bytes = this.putBytes;
    for (const b of this.tombstoneBytes.values()) bytes += b;
    return bytes;
  }

  async closeIfUnused(): Promise<void> {
    if (!this.retired || this.readers > 0 || this.closed) return;
    this.closed = true;
    await this.fd.close().catch(() => undefined);
  }
}

/**
 * Where a live small blob is, and its meta (kept in memory: stat and list never touch the disk).
 * Kept small, as there is one per small blob on the node: its sha256, storedAtMs and attributes are
 * ONE packed string (segment-meta.ts), decoded when asked; the data's offset is derived (a put's
 * record ends with its data); the rare fields are left off, not set to undefined. Measured after a
 * reopen (bench/micro/segment-heap.ts, 200,000 puts of 1 KiB, heap + external): 398 -> 230 bytes a
 * blob without attributes, 822 -> 376 with a trash copy's ten, the open's CPU no worse.
 */
export class SegmentEntry {
  /** Other segments that hold older copies of this id's put (a put written twice; rare). */
  declare olderPuts?: number[];
  /** Set while a tombstone for it is being written (a put compaction cannot find then is not reported lost). */
  declare deleting?: number;
  constructor(
    readonly segment: Segment,
    readonly offset: number,
    readonly recordLength: number,
    readonly size: number,
    readonly seq: number,
    /** packMeta(storedAtMs, sha256, attributes). */
    readonly meta: string,
  ) {}

  /** Where the data starts in the segment file. */
  get dataStart(): number {
    return this.offset + this.recordLength - this.size;
  }

  get storedAtMs(): number {
    return storedAtOf(this.meta);
  }

  /** A new Buffer each time. */
  get sha256(): Buffer {
    return sha256Of(this.meta);
  }

  /** A new object each time. */
  get attributes(): Record<string, string> {
    return attributesOf(this.meta);
  }
}

/** A record waiting for the next group write; apply() runs once it is durable, in append order. */
interface PendingAppend {
  iov: Buffer[];
  length: number;
  /**
   * Runs when the record's group is formed, after every earlier group has applied: the record is
   * encoded or dropped from what the index says then. False: drop it (it has settled itself).
   */
  prepare?(): boolean;
  /** Deletes and relocations: written with the space reserve when the disk is full (puts are not). */
  freesSpace?: boolean;
  apply(segment: Segment, offset: number): void;
  fail(e: Error): void;
}

export interface SegmentStoreOptions {
  dir: string;
  log: Logger;
  /** A segment is sealed and a new one started past this size. */
  maxSegmentBytes?: number;
  /**
   * The segment being written is sealed for compaction once it holds this much and is mostly dead
   * (default 4 MiB; smaller ones wait to fill: each seal costs a file, and an fd while it lives).
   */
  sealForCompactionBytes?: number;
  /** Bytes written by one writev + fdatasync at most. */
  maxGroupBytes?: number;
  /** Where group writes and syncs run (tests force syncs off the event loop). */
  writePolicy?: GroupWritePolicy;
  /** Bytes held in `reserve` for deletes and compaction on a full disk (segment-reserve.ts); 0: none. */
  reserveBytes?: number;
  /**
   * Blobs the in-memory index may hold; a put of a new id past it is refused (StoreUnavailable)
   * until deletes free room. Default: no bound (disk-backend.ts gives one from the heap's limit).
   */
  maxBlobs?: number;
}

const SEGMENT_NAME = /^(\d{8})\.seg$/;
/** A segment that compaction could not read whole is renamed to this, kept for whoever investigates. */
const DAMAGED_SUFFIX = ".damaged";

/**
 * Small blobs appended to segment files. Puts and deletes queue up while the previous group is
 * being synced and then go out as ONE writev + ONE fdatasync (group commit); each resolves only
 * after its group's sync. Small groups are written and synced from the event loop
 * (GroupWritePolicy). The index (blob id -> place and meta) lives in memory and is rebuilt at open
 * by scanning the segments; a torn tail left by a crash is cut off, and a damaged record elsewhere
 * is stepped over (segment-scanner.ts), logged and counted (stats().unreadableRecords).
 *
 * Compaction rewrites sealed segments that are mostly dead. A tombstone is carried forward only
 * while a segment holding a put it cancels still exists (the record lists them), and the ones
 * carried count as live, so a segment of needed tombstones is not rewritten again and again.
 */
export class SegmentStore {
  private readonly index = new Map<string, SegmentEntry>();
  private readonly segments = new Map<number, Segment>();
  private active!: Segment;
  private nextSeq = 1;
  private queue: PendingAppend[] = [];
  private writing = false;
  /** The next group starts a new segment (sealActive). */
  private sealRequested = false;
  /** A write failed for want of space since the last compaction pass. */
  private noSpace = false;
  private writeLoopDone: Promise<void> = Promise.resolve();
  private compacting: Promise<unknown> = Promise.resolve();
  private closed = false;
  private totalBytes = 0;
  /** Unreadable records of the segments compaction has put aside (the others count in their Segment). */
  private unreadableAside = 0;
  private readonly writePolicy: GroupWritePolicy;
  private readonly reserve: SpaceReserve;
  private readonly maxSegmentBytes: number;
  private readonly maxGroupBytes: number;
  /** The most blobs the index takes before a put of a new one is refused (options' maxBlobs). */
  readonly maxBlobs: number;
  /** Puts have been refused for want of index room since it was last below its bound (logged once). */
  private indexFull = false;
  private readonly compaction: CompactionStats = {
    passes: 0,
    segmentsByIndex: 0,
    segmentsByScan: 0,
    bytesRead: 0,
    bytesCopied: 0,
    bytesFreed: 0,
  };

  constructor(private readonly opts: SegmentStoreOptions) {
    this.maxSegmentBytes = opts.maxSegmentBytes ?? 256 * 1024 * 1024;
    this.maxBlobs = opts.maxBlobs ?? Number.POSITIVE_INFINITY;
    this.maxGroupBytes = opts.maxGroupBytes ?? 8 * 1024 * 1024;
    this.writePolicy = opts.writePolicy ?? new GroupWritePolicy();
    this.reserve = new SpaceReserve(join(opts.dir, "reserve"), opts.reserveBytes ?? 0, opts.log);
  }

  async open(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    const names = await readdir(this.opts.dir);
    const aside = names.filter((n) => n.endsWith(DAMAGED_SUFFIX));
    if (aside.length) this.opts.log.warn({ dir: this.opts.dir, files: aside }, "damaged segments kept aside by an earlier compaction");
    const ids = names
      .map((n) => SEGMENT_NAME.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    // Every segment is known before the scans: a tombstone is live while the segments it names exist.
    for (const id of ids) {
      const path = this.pathOf(id);
      this.segments.set(id, new Segment(id, path, await open(path, "r+"), 0));
    }
    const tombstones = new Map<string, number>();
    for (const [i, id] of ids.entries()) {
      const segment = this.segments.get(id)!;
      const scan = await scanSegment(segment.fd, (r) => this.replay(segment, r, tombstones));
      segment.size = scan.fileSize;
      let damage = scan.skipped;
      if (i === ids.length - 1 && scan.goodEnd < scan.fileSize) {
        // Only the last segment was being appended to: what follows its last good record is a torn write.
        this.opts.log.warn(
          { segment: segment.path, at: scan.goodEnd, cut: scan.fileSize - scan.goodEnd, why: damage[damage.length - 1].why },
          "truncating torn segment tail",
        );
        await segment.fd.truncate(scan.goodEnd);
        await segment.fd.sync();
        segment.size = scan.goodEnd;
        damage = damage.filter((d) => d.offset < scan.goodEnd);
      }
      // A tombstone whose header checked out still cancels its put, even if the rest is unreadable.
      for (const d of damage) {
        if (d.header?.type === TOMBSTONE) this.replayTombstone(d.header.blobId, d.header.seq, tombstones);
      }
      this.noteUnreadable(segment, damage, "at open");
      this.totalBytes += segment.size;
    }
    for (const e of this.index.values()) e.segment.putBytes += e.recordLength;
    const last = ids.length ? this.segments.get(ids[ids.length - 1])! : undefined;
    this.active = last && last.size < this.maxSegmentBytes ? last : await this.createSegment((last?.id ?? 0) + 1);
    await this.reserve.take();
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

  /** unreadableRecords: damaged records found in the segments (stretches the scans stepped over). */
  stats(): { blobCount: number; usedBytes: number; segmentCount: number; unreadableRecords: number } {
    let unreadable = this.unreadableAside;
    for (const s of this.segments.values()) unreadable += s.unreadable.length;
    return { blobCount: this.index.size, usedBytes: this.totalBytes, segmentCount: this.segments.size, unreadableRecords: unreadable };
  }

  /** What compaction has done since the store opened (a copy). */
  compactionStats(): CompactionStats {
    return { ...this.compaction };
  }

  /** The disk filled up (a write failed with ENOSPC, or the reserve is in use) and compaction has not run since. */
  get diskFull(): boolean {
    return this.reserve.released || this.noSpace;
  }

  /**
   * Appends a small blob; resolves once its group is durable. IntegrityError if data does not hash
   * to sha256, or, given the sender's `crc32`, if its crc32 is not that: then the crc32 the record's
   * header holds anyway is the check, taken once, and sha256 is stored as given (verify, reads and
   * the scrubber hash against it). The sha256 was 10-14 µs per 4 KiB put in the bench's profiles,
   * ~4 % of a storage node's CPU under the overwrite row; check + record 7.1 -> 3.2 µs per 4 KiB put
   * in bench/micro/small-put-check.ts (bench/README.md, "A small put checked by its crc32").
   */
  put(blobId: string, attributes: Record<string, string>, data: Buffer, sha256: Buffer, crc?: number): Promise<BlobMeta> {
    let dataCrc: number | undefined;
    if (crc === undefined) {
      // crypto.hash's one-shot: no Hash object (a LazyTransform) built per blob.
      if (!hash("sha256", data, "buffer").equals(sha256)) {
        return Promise.reject(new IntegrityError(`blob ${blobId}: sha256 does not match the data`));
      }
    } else {
      dataCrc = crc32(data);
      if (dataCrc !== crc) return Promise.reject(new IntegrityError(`blob ${blobId}: crc32 does not match the data`));
      // Unchecked, it is still what verify and reads check against: it must at least be a sha256.
      if (sha256.length !== 32) return Promise.reject(new InvalidArgumentError(`blob ${blobId}: the sender's sha256 is not 32 bytes`));
    }
    if (this.reserve.released) {
      return Promise.reject(new MiniS3Error(ErrorCode.StoreUnavailable, "disk full: small puts wait until compaction frees space"));
    }
    if (this.index.size >= this.maxBlobs && !this.index.has(blobId)) return Promise.reject(this.refuseForIndex());
    this.indexFull = false;
    const seq = this.nextSeq++;
    const storedAtMs = Date.now();
    const rec = encodeRecord({ type: PUT, blobId, attributes, seq, storedAtMs, sha256, data, dataCrc });
    const meta = packMeta(storedAtMs, sha256, attributes);
    return new Promise<BlobMeta>((resolve, reject) => {
      this.enqueue({
        iov: rec.iov,
        length: rec.length,
        apply: (segment, offset) => {
          const entry = new SegmentEntry(segment, offset, rec.length, data.length, seq, meta);
          this.install(blobId, entry);
          // From the put's own inputs: the entry's packed meta holds the same, and decoding it back
          // (its attributes: a trash copy's ten) was work for an answer that leaves them out.
          resolve({ blobId, size: data.length, sha256, storedAtMs, attributes });
        },
        fail: reject,
      });
    });
  }

  /**
   * The index is at its bound: every entry is heap, and a node past its heap's limit crashes, at
   * its next open too (its scan rebuilds the same index). Refused, the coordinator puts the copy on
   * another node or retries the move later. Checked before the put is queued, so the puts
   * queued at that moment (a group or two of them) may pass it together.
   */
  private refuseForIndex(): MiniS3Error {
    const n = this.index.size;
    if (!this.indexFull) {
      this.indexFull = true;
      this.opts.log.warn(
        { blobs: n, maxBlobs: this.maxBlobs },
        "small puts refused: the index holds as many blobs as this node's heap allows",
      );
    }
    return new MiniS3Error(
      ErrorCode.StoreUnavailable,
      `index full: ${n} small blobs, the most this node keeps in memory (MINIS3_NODE_MAX_SMALL_BLOBS); small puts wait until deletes free room`,
    );
  }

  /** Appends a tombstone (durable) then drops the blob from the index. False if there was none. */
  async delete(blobId: string): Promise<boolean> {
    if (!this.index.has(blobId)) return false;
    const seq = this.nextSeq++;
    let target: SegmentEntry | undefined;
    let shadows: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const a: PendingAppend = {
        iov: [],
        length: 0,
        freesSpace: true,
        // Encoded when its group forms, so it names where the put is then (compaction may have moved it).
        prepare: () => {
          target = this.index.get(blobId);
          if (!target || target.seq > seq) {
            resolve(); // deleted meanwhile, or put again after this delete: nothing to cancel
            return false;
          }
          target.deleting = seq;
          shadows = [...new Set([target.segment.id, ...(target.olderPuts ?? [])])].filter((id) => this.segments.has(id));
          const rec = encodeRecord({ type: TOMBSTONE, blobId, attributes: {}, seq, storedAtMs: Date.now(), shadows });
          a.iov = rec.iov;
          a.length = rec.length;
          return true;
        },
        apply: (segment) => {
          const cur = this.index.get(blobId);
          if (cur && cur.seq < seq) {
            this.index.delete(blobId);
            cur.segment.putBytes -= cur.recordLength;
          }
          this.countTombstone(segment, shadows, a.length);
          resolve();
        },
        fail: (e) => {
          if (target?.deleting === seq) target.deleting = undefined;
          reject(e);
        },
      };
      this.enqueue(a);
    });
    return true;
  }

  /**
   * Reads `length` bytes of a blob's data from `offset`. A whole read is checked: against the record's
   * own checksums (readRecordData) or, with `bySha256` (verify) or where the record cannot say, against
   * the index's sha256.
   */
  async readData(blobId: string, entry: SegmentEntry, offset: number, length: number, bySha256 = false): Promise<Buffer> {
    const segment = entry.segment;
    // An entry taken before a compaction: its file is gone and its fd number may be another file's now.
    if (segment.closed) throw new NotFoundError(`blob ${blobId}: segment ${segment.id} was compacted away`);
    segment.readers++;
    try {
      const whole = offset === 0 && length === entry.size;
      if (whole && !bySha256 && entry.recordLength <= SYNC_READ_MAX) {
        const data = readRecordData(blobId, entry);
        if (data) return data;
      }
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
      if (whole && !hash("sha256", buf, "buffer").equals(entry.sha256)) {
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
   * Oldest first: a tombstone's put is never in a newer segment than the tombstone, so by the time
   * a tombstone is looked at, the segments it names that this pass compacts are already gone.
   * Returns the number of segments compacted. With `dutyCycle` below 1 it works that share of the
   * wall time at most, resting between blocks read and between segments (DutyCycle), but not once
   * the store is closing or a write has found the disk full.
   */
  compact(maxLiveShare = 0.5, opts: { dutyCycle?: number } = {}): Promise<number> {
    const run = this.compacting
      .catch(() => undefined)
      .then(async () => {
        this.noSpace = false;
        const pace =
          opts.dutyCycle !== undefined && opts.dutyCycle < 1
            ? new DutyCycle(opts.dutyCycle, () => this.closed || this.diskFull)
            : undefined;
        const step = pace ? () => pace.step() : undefined;
        let done = 0;
        // Compaction never touches the segment being written. Mostly dead, it is sealed first: on a
        // disk smaller than a segment (256 MiB), or whose dead data all sat in that one, deleting
        // everything freed nothing and small puts stayed refused for good (disk-full.test.ts).
        const a = this.active;
        if (a.size >= (this.opts.sealForCompactionBytes ?? 4 * 1024 * 1024) && a.liveBytes / a.size <= maxLiveShare) {
          await this.sealActive().catch((e: unknown) =>
            this.opts.log.warn({ err: e, segment: a.path }, "could not seal a segment to compact it"),
          );
        }
        const due = (s: Segment) => s !== this.active && s.size > 0 && s.liveBytes / s.size <= maxLiveShare;
        // The live puts of the segments this pass may read by the index alone, found in one walk of it
        // (walked again for a segment that came due only as the pass freed the segments it named).
        let live: Map<Segment, RecordPlace[]> | undefined;
        for (const s of [...this.segments.values()].sort((a, b) => a.id - b.id)) {
          if (this.closed) break;
          if (!due(s)) continue;
          let places: RecordPlace[] | undefined;
          if (this.readableByIndex(s)) {
            live ??= await this.livePlaces([...this.segments.values()].filter((x) => due(x) && this.readableByIndex(x)));
            places = live.get(s) ?? (await this.livePlaces([s])).get(s);
          }
          try {
            await this.compactSegment(s, step, places);
            done++;
            await step?.();
          } catch (e) {
            // The segment stays as it was (nothing was removed); a later, dead one may still be freed.
            // Tombstones stay safe: one naming this segment still finds it.
            this.opts.log.error({ err: e, segment: s.path }, "segment compaction failed");
          }
        }
        if (this.reserve.released && !this.closed) await this.reserve.take();
        this.compaction.passes++;
        return done;
      });
    this.compacting = run;
    return run;
  }

  /**
   * Starts a new segment for what is written next, in the one writer: once this resolves, every
   * append queued before it is in the old segment and none can reach it any more.
   */
  private sealActive(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sealRequested = true;
      this.enqueue({ iov: [], length: 0, freesSpace: true, apply: () => resolve(), fail: reject });
    });
  }

  /**
   * Whether compaction may read only `segment`'s live puts: none of its tombstones is needed any more
   * and no damage is known in it. Else it scans the file whole, which finds the tombstones (and
   * damaged ones by their headers) and reports damage. Measured (bench/micro/compact-dead.ts, 65,000
   * dead 4 KiB blobs, what the lifecycle and the overwrite rows leave): see bench/README.md
   * "Compaction reads the live puts alone".
   */
  private readableByIndex(segment: Segment): boolean {
    return !segment.unreadable.length && !this.holdsNeededTombstones(segment);
  }

  /**
   * Where the index's puts in `segments` are, by segment (every one given has a list, maybe empty).
   * The loop gets a turn every WALK_TURN entries: a walk of a million took ~20 ms here, and a node
   * may index ten. What changes meanwhile is safe: a sealed segment gains no put, and one deleted
   * or moved after the walk is passed by the copy (isLivePut).
   */
  private async livePlaces(segments: Segment[]): Promise<Map<Segment, RecordPlace[]>> {
    const places = new Map<Segment, RecordPlace[]>(segments.map((s) => [s, []]));
    let walked = 0;
    for (const [blobId, e] of this.index) {
      places.get(e.segment)?.push({ blobId, offset: e.offset, length: e.recordLength });
      if (++walked % WALK_TURN === 0) await loopTurn();
    }
    return places;
  }

  /**
   * Copies `old`'s live records to the active segment and removes it. `places`: its live puts by the
   * index, when readableByIndex said no tombstone of it is needed; a place whose record does not
   * check out sends it to the scan (those copied already are passed there as dead).
   */
  private async compactSegment(old: Segment, beforeRead?: () => Promise<void>, places?: RecordPlace[]): Promise<void> {
    let inFlight: Promise<void>[] = [];
    let inFlightBytes = 0;
    /** Entries of the puts copied out: they name `old` among their older puts until it is gone. */
    const moved: SegmentEntry[] = [];
    let copied = 0;
    const copy = async (r: ScannedRecord, bytes: Buffer) => {
      if (!(r.type === PUT ? this.isLivePut(r, old) : this.tombstoneNeeded(r, old))) return;
      inFlight.push(this.relocate(r, Buffer.from(bytes), old, moved));
      inFlightBytes += r.recordLength;
      copied += r.recordLength;
      if (inFlightBytes >= this.maxGroupBytes) {
        await Promise.all(inFlight);
        inFlight = [];
        inFlightBytes = 0;
      }
    };
    if (places) {
      const { bad, bytesRead } = await readRecordsAt(old.fd, places, copy, beforeRead);
      this.compaction.bytesRead += bytesRead;
      await Promise.all(inFlight);
      inFlight = [];
      inFlightBytes = 0;
      if (!bad) {
        await this.retire(old, moved, copied);
        this.compaction.segmentsByIndex++;
        return;
      }
      this.opts.log.warn(
        { segment: old.path, at: bad.offset, blob: bad.blobId },
        "a live record did not check out: compaction scans the segment",
      );
    }
    const scan = await scanSegment(
      old.fd,
      copy,
      // A dead put is passed by its header: its bytes are not copied, so not checked either. Not in
      // a segment with damage found already: read whole, it is kept aside for whoever investigates.
      old.unreadable.length ? undefined : (h, offset) => h.type === PUT && !this.isLivePut({ blobId: h.blobId, offset }, old),
      beforeRead,
    );
    this.compaction.bytesRead += scan.bytesRead;
    // A tombstone whose data is damaged is still obeyed at open (its verified header names the blob
    // and seq), so it is carried forward too: dropped with this segment, the put it cancels, in a
    // segment kept, came back at the next restart. The segments it named are unreadable: it names
    // every older one (a tombstone's put is never in a newer segment).
    for (const d of scan.skipped) {
      if (d.header?.type !== TOMBSTONE) continue;
      const shadows = [...this.segments.keys()].filter((id) => id < old.id);
      if (!shadows.length) continue;
      const { blobId, seq } = d.header;
      const rec = encodeRecord({ type: TOMBSTONE, blobId, attributes: {}, seq, storedAtMs: Date.now(), shadows });
      const bytes = Buffer.concat(rec.iov);
      const r: ScannedRecord = {
        type: TOMBSTONE,
        blobId,
        seq,
        recordLength: rec.length,
        attributes: {},
        storedAtMs: 0,
        sha256: Buffer.alloc(32),
        dataStart: rec.dataStart,
        dataLength: rec.length - rec.dataStart,
        shadows,
        offset: d.offset,
      };
      inFlight.push(this.relocate(r, bytes, old, moved));
      copied += rec.length;
    }
    await Promise.all(inFlight);
    this.noteUnreadable(old, scan.skipped, "while compacting");
    await this.retire(old, moved, copied);
    this.compaction.segmentsByScan++;
  }

  /** Removes a segment whose live records were all copied out (`moved`: their new entries; `copied`: their bytes). */
  private async retire(old: Segment, moved: SegmentEntry[], copied: number): Promise<void> {
    // ENOENT: an earlier pass removed the file but failed to sync the directory (the segment stayed
    // known); only the sync is left. Else every retry failed and the segment was never let go.
    const removed = (e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    };
    if (old.unreadable.length) {
      // Everything readable has moved; the file itself is kept for whoever investigates.
      await rename(old.path, old.path.replace(/\.seg$/, DAMAGED_SUFFIX)).catch(removed);
    } else {
      await unlink(old.path).catch(removed);
    }
    await fsyncDir(this.opts.dir);
    // Let go only once its file is gone for good: while the segment is known, the tombstones naming
    // it are carried forward. Forgotten before a removal that failed, the file stayed, its tombstones
    // were dropped with the next segment compacted, and a restart brought back what they cancelled.
    this.segments.delete(old.id);
    this.totalBytes -= old.size;
    this.compaction.bytesCopied += copied;
    this.compaction.bytesFreed += Math.max(0, old.size - copied);
    old.retired = true;
    if (old.unreadable.length) this.unreadableAside += old.unreadable.length;
    // Tombstones kept for what this segment held are no longer needed anywhere.
    for (const s of this.segments.values()) {
      s.tombstoneBytes.delete(old.id);
      s.tombstoneRefs.delete(old.id);
    }
    for (const e of moved) e.olderPuts = withoutSegment(e.olderPuts, old.id);
    if (old.putBytes > 0) this.forgetUnreadable(old);
    await old.closeIfUnused();
    this.opts.log.info({ segment: old.path, keptAside: old.unreadable.length > 0 }, "segment compacted");
  }

  /** Index entries the compaction scan could not find (their record went bad since open): lost on this node. */
  private forgetUnreadable(old: Segment): void {
    const lost: string[] = [];
    for (const [id, e] of this.index) {
      if (e.segment !== old) continue;
      this.index.delete(id);
      if (e.deleting === undefined) lost.push(id);
    }
    if (lost.length) this.opts.log.error({ segment: old.path, blobs: lost }, "blobs lost on this node: their records are unreadable");
  }

  private noteUnreadable(segment: Segment, skipped: SkippedRange[], when: string): void {
    segment.unreadable = skipped;
    if (!skipped.length) return;
    this.opts.log.error(
      {
        segment: segment.path,
        skipped: skipped.map((d) => ({ at: d.offset, bytes: d.length, why: d.why, blob: d.header?.blobId })),
      },
      `unreadable records in a segment ${when}; the records after them are kept`,
    );
  }

  /**
   * Even while a tombstone for it is being written: that write may fail, and the put must then still
   * be copied. The copy's group forms after the tombstone's has settled (written: it is dropped then)
   * or is the tombstone's own (it fails with it, or lands in its segment, dead and gone with it).
   */
  private isLivePut(r: Pick<ScannedRecord, "blobId" | "offset">, from: Segment): boolean {
    const cur = this.index.get(r.blobId);
    return cur !== undefined && cur.segment === from && cur.offset === r.offset;
  }

  /** A tombstone matters while another segment that may hold a put it cancels exists. */
  private tombstoneNeeded(r: ScannedRecord, from: Segment): boolean {
    if (r.shadows) return r.shadows.some((id) => id !== from.id && this.segments.has(id));
    // Version 1 tombstones do not say: any older segment may hold the put.
    for (const id of this.segments.keys()) if (id < from.id) return true;
    return false;
  }

  /**
   * Counts a tombstone as live bytes in `segment` while the first other segment it names exists
   * (tombstoneBytes), and every other segment it names (tombstoneRefs, holdsNeededTombstones).
   */
  private countTombstone(segment: Segment, shadows: number[] | undefined, length: number): void {
    if (!shadows) segment.legacyTombstones = true;
    const holder = shadows?.find((id) => id !== segment.id && this.segments.has(id));
    if (holder !== undefined) segment.tombstoneBytes.set(holder, (segment.tombstoneBytes.get(holder) ?? 0) + length);
    for (const id of shadows ?? []) if (id !== segment.id) segment.tombstoneRefs.set(id, (segment.tombstoneRefs.get(id) ?? 0) + 1);
  }

  /** Whether some tombstone of `segment` may cancel a put in another segment still here (tombstoneNeeded's, for all). */
  private holdsNeededTombstones(segment: Segment): boolean {
    if (segment.legacyTombstones) return true;
    for (const id of segment.tombstoneRefs.keys()) if (this.segments.has(id)) return true;
    return false;
  }

  private relocate(r: ScannedRecord, bytes: Buffer, from: Segment, moved: SegmentEntry[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.enqueue({
        iov: [bytes],
        length: bytes.length,
        freesSpace: true,
        // Checked again when its group forms: a delete queued since must not see its put copied past it.
        prepare: () => {
          if (r.type === PUT ? this.isLivePut(r, from) : this.tombstoneNeeded(r, from)) return true;
          resolve();
          return false;
        },
        apply: (segment, offset) => {
          if (r.type === TOMBSTONE) {
            this.countTombstone(segment, r.shadows, r.recordLength);
          } else {
            const cur = this.index.get(r.blobId);
            // Moved only if still the same record: a delete or a newer put meanwhile wins.
            if (cur && cur.segment === from && cur.offset === r.offset) {
              // `from` keeps its copy until the compaction has removed it, and it may fail before: a
              // tombstone written meanwhile must name it, or it could be dropped while that put stays.
              const entry = new SegmentEntry(segment, offset, cur.recordLength, cur.size, cur.seq, cur.meta);
              entry.olderPuts = withSegment(cur.olderPuts, from.id);
              if (cur.deleting !== undefined) entry.deleting = cur.deleting;
              this.index.set(r.blobId, entry);
              moved.push(entry);
              from.putBytes -= r.recordLength;
              segment.putBytes += r.recordLength;
            }
          }
          resolve();
        },
        fail: reject,
      });
    });
  }

  /** Rebuild: the highest seq of each id wins, whatever segment it is in. */
  private replay(segment: Segment, r: ScannedRecord, tombstones: Map<string, number>): void {
    if (r.type === TOMBSTONE) {
      this.replayTombstone(r.blobId, r.seq, tombstones);
      this.countTombstone(segment, r.shadows, r.recordLength);
      return;
    }
    if (r.seq >= this.nextSeq) this.nextSeq = r.seq + 1;
    if ((tombstones.get(r.blobId) ?? 0) > r.seq) return;
    const cur = this.index.get(r.blobId);
    // Two puts of one id (written twice, or a copy a crash left behind): the loser's segment is
    // remembered, so a later delete names it too.
    if (cur && cur.seq >= r.seq) {
      cur.olderPuts = withSegment(cur.olderPuts, segment.id);
      return;
    }
    const entry = new SegmentEntry(segment, r.offset, r.recordLength, r.dataLength, r.seq, packMeta(r.storedAtMs, r.sha256, r.attributes));
    if (cur) entry.olderPuts = withSegment(cur.olderPuts, cur.segment.id);
    this.index.set(r.blobId, entry);
  }

  private replayTombstone(blobId: string, seq: number, tombstones: Map<string, number>): void {
    if (seq >= this.nextSeq) this.nextSeq = seq + 1;
    if ((tombstones.get(blobId) ?? 0) < seq) tombstones.set(blobId, seq);
    const cur = this.index.get(blobId);
    if (cur && cur.seq < seq) this.index.delete(blobId);
  }

  private install(blobId: string, entry: SegmentEntry): void {
    const cur = this.index.get(blobId);
    if (cur && cur.seq > entry.seq) {
      cur.olderPuts = withSegment(cur.olderPuts, entry.segment.id); // a newer put already landed; this record is dead
      return;
    }
    if (cur) {
      entry.olderPuts = withSegment(cur.olderPuts, cur.segment.id);
      cur.segment.putBytes -= cur.recordLength;
    }
    this.index.set(blobId, entry);
    entry.segment.putBytes += entry.recordLength;
  }

  private enqueue(a: PendingAppend): void {
    if (this.closed && !this.writing) {
      a.fail(new MiniS3Error(ErrorCode.StoreUnavailable, "segment store is closed"));
      return;
    }
    this.queue.push(a);
    if (!this.writing) {
      this.writing = true;
      // Started a microtask later, so that every append queued in this tick goes in the first group:
      // an Exchange message's puts and deletes are queued in one synchronous loop. Started at once,
      // the first append went out alone (writev in the same tick) and the rest waited for its
      // fdatasync to make a second group: two syncs per message where one does.
      this.writeLoopDone = Promise.resolve().then(() => this.writeLoop());
    }
  }

  /** Group commit: whatever queued up while the previous group was syncing goes out together. */
  private async writeLoop(): Promise<void> {
    try {
      while (this.queue.length) {
        const group: PendingAppend[] = [];
        let bytes = 0;
        let taken = 0;
        for (; taken < this.queue.length; taken++) {
          const a = this.queue[taken];
          // A record that does not fit is prepared again for the next group: what it saw may change.
          if (a.prepare && !a.prepare()) continue;
          if (group.length && bytes + a.length > this.maxGroupBytes) break;
          group.push(a);
          bytes += a.length;
        }
        this.queue.splice(0, taken);
        // A group written and synced on the loop never gave the loop a turn: let it have one before
        // the next (replies go out, reads are served, what arrives joins the next group). Without it
        // compaction's copies, queued from microtasks as the scan decodes a block, went out one
        // record per sync back to back (801 groups for 800 records in the test), holding a storage
        // node's loop 140-340 ms at a time in the overwrite row.
        if (group.length && (await this.writeGroup(group, bytes))) await loopTurn();
      }
    } finally {
      this.writing = false;
    }
  }

  /** Writes and syncs one group; answers whether it was synced on the event loop. */
  private async writeGroup(group: PendingAppend[], bytes: number): Promise<boolean> {
    let segment = this.active;
    let start = segment.size;
    const seal = this.sealRequested;
    this.sealRequested = false;
    let onLoop = false;
    try {
      if (start > 0 && (seal || start + bytes > this.maxSegmentBytes)) {
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
      onLoop = this.writePolicy.syncOnLoop(bytes);
      if (onLoop) fdatasyncSync(segment.fd.fd);
      else await segment.fd.datasync();
      this.writePolicy.synced(performance.now() - syncStart, onLoop);
    } catch (e) {
      // Cut off whatever part of the group reached the file, so the next group starts clean.
      await segment.fd.truncate(start).catch(() => undefined);
      if (isNoSpace(e)) this.noSpace = true;
      if (isNoSpace(e) && group.some((a) => a.freesSpace) && (await this.reserve.release())) {
        // The disk is full: deletes and relocations go again on the reserve's space, puts fail.
        const retry = group.filter((a) => a.freesSpace);
        const full = new MiniS3Error(ErrorCode.StoreUnavailable, "disk full: small puts wait until compaction frees space");
        for (const a of group) if (!a.freesSpace) a.fail(full);
        return this.writeGroup(
          retry,
          retry.reduce((n, a) => n + a.length, 0),
        );
      }
      this.opts.log.error({ err: e, segment: segment.path }, "segment write failed");
      const err = new MiniS3Error(ErrorCode.StoreUnavailable, `segment write failed: ${(e as Error).message}`);
      for (const a of group) a.fail(err);
      return false;
    }
    segment.size = start + bytes;
    this.totalBytes += bytes;
    let offset = start;
    for (const a of group) {
      a.apply(segment, offset);
      offset += a.length;
    }
    return onLoop;
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

/**
 * A small blob's whole data read with its record (one pread of header + data) and checked by the
 * record's own checksums, not by hashing the data with sha256: the header as decodeHeader checks it
 * (its crc32: so its data crc32, type, id, seq and lengths are the ones written), that it is this
 * entry's put (its id, and its seq, unique to a put record and kept by compaction), then the data's crc32. The data crc32 was taken of the very bytes
 * whose sha256 the put checked or was given with their crc32 (SegmentStore.put), as a blob file's
 * reads check its blocks' crc32s and only verify its sha256. undefined: a version-1 record (its
 * one crc32 is not the data's alone), for the caller's sha256 check. Measured (2026-12-07): readData of
 * 4 KiB 6.7-9.5 -> 3.5-4.8 µs (one process, rounds alternated); bench/micro/put-small.ts get at 32 in
 * flight, node CPU per get 16.6-24.0 -> 14.7-19.7 µs (8 alternated pairs, 7 lower, 1 even). In the
 * overwrite row the coordinator's body cache answers most reads, so the row does not show it. The header
 * read through decodeHeader (the one decoder of the layout, with the id check) costs +0.3-0.5 µs a read
 * against offsets read in place (3.5-4.3 -> 3.9-4.7, three alternated runs): kept for the one layout.
 */
function readRecordData(blobId: string, entry: SegmentEntry): Buffer | undefined {
  const rec = Buffer.allocUnsafe(entry.recordLength);
  let filled = 0;
  while (filled < rec.length) {
    const n = readSync(entry.segment.fd.fd, rec, filled, rec.length - filled, entry.offset + filled);
    if (n === 0) throw new IntegrityError(`blob ${blobId}: segment ${entry.segment.id} is truncated`);
    filled += n;
  }
  const h = decodeHeader(rec, 0);
  if (h.kind === "none") {
    if (rec.readUInt32BE(0) === RECORD_MAGIC_V1) return undefined;
    throw new IntegrityError(`blob ${blobId}: no record where the index says it is`);
  }
  if (h.kind !== "ok") {
    throw new IntegrityError(`blob ${blobId}: its record's header does not check out (${h.kind === "bad" ? h.why : "short"})`);
  }
  const { header, dataStart, dataLength } = h;
  if (
    header.type !== PUT ||
    header.blobId !== blobId ||
    header.seq !== entry.seq ||
    header.recordLength !== entry.recordLength ||
    dataLength !== entry.size
  ) {
    throw new IntegrityError(`blob ${blobId}: its record's header does not check out (another record's)`);
  }
  const data = rec.subarray(dataStart);
  if (crc32(data) !== storedDataCrc(rec, 0)) throw new IntegrityError(`blob ${blobId} failed its crc32 check`);
  return data;
}

function withSegment(list: number[] | undefined, id: number): number[] {
  return list?.includes(id) ? list : [...(list ?? []), id];
}

function withoutSegment(list: number[] | undefined, id: number): number[] | undefined {
  const rest = list?.filter((s) => s !== id);
  return rest?.length ? rest : undefined;
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
