import type { FileHandle } from "node:fs/promises";
import { setImmediate as loopTurn } from "node:timers/promises";
import { readUpTo } from "./read-up-to";
import {
  decodeHeader,
  decodeRecord,
  MAGIC_PREFIX,
  PUT,
  RECORD_HEADER,
  type DecodedRecord,
  type DecodeResult,
  type HeaderResult,
  type RecordHeader,
} from "./segment-record";

const READ_BLOCK = 4 * 1024 * 1024;

/**
 * Records stepped between two turns given to the event loop. A block's records are otherwise all
 * taken in microtasks: one 4 MiB block of dead 4 KiB puts (passed by header, awaiting nothing) held a
 * storage node's loop 50-84 ms under the bench's overwrite load, every request to it waiting. A turn
 * costs a few microseconds; 64 records of 4 KiB take ~0.1-0.5 ms to step.
 */
const TURN_EVERY_RECORDS = 64;

export interface ScannedRecord extends DecodedRecord {
  /** Offset of the record in the file. */
  offset: number;
}

/** A stretch of a segment that holds no readable record. */
export interface SkippedRange {
  offset: number;
  length: number;
  why: string;
  /** What the record was, when its header checked out (only its data is bad). */
  header?: RecordHeader;
}

export interface ScanResult {
  /** End of the last good record: a torn tail (in the segment being appended to) starts here. */
  goodEnd: number;
  fileSize: number;
  /** Every stretch that was stepped over, in file order. */
  skipped: SkippedRange[];
  /** Bytes read from the file (compaction's metrics). */
  bytesRead: number;
}

/**
 * Reads a segment front to back in large blocks, calling onRecord for each intact record. A bad
 * record hides nothing after it: one whose header checks out is stepped over by its length;
 * otherwise the scan resumes at the next offset where a whole record checks out (magic, header crc,
 * data crc: a random match is about 2^-96), and the stretch in between is reported as skipped.
 * onRecord may return a promise (compaction does, to bound what it has in flight): it is awaited.
 * A record `pass` says is not wanted (by its verified header) is stepped over unread: its data is
 * neither checked nor decoded, and onRecord does not see it. Compaction passes dead puts so: freeing
 * 65,000 deleted 4 KiB blobs (what demotions leave on a storage node) took 2.74-2.84 s of CPU, now
 * 1.94-2.17 s (bench/micro/compact-dead.ts, alternated, load 5-6). Their tombstones are decoded
 * whole: 0.77-0.85 s → 0.32-0.35 s on a quiet machine once decodeV2 stopped spreading the header.
 * `beforeRead`, when given, is awaited before each block is read (compaction's pacing). The event
 * loop gets a turn every TURN_EVERY_RECORDS records, whatever the block holds.
 * Memory: one block (or one record, if larger).
 */
export async function scanSegment(
  fd: FileHandle,
  onRecord: (r: ScannedRecord, bytes: Buffer) => void | Promise<void>,
  pass?: (header: RecordHeader, offset: number) => boolean,
  beforeRead?: () => Promise<void>,
): Promise<ScanResult> {
  const file = new BlockReader(fd, (await fd.stat()).size, beforeRead);
  const skipped: SkippedRange[] = [];
  let pos = 0;
  let goodEnd = 0;
  let stepped = 0;
  while (pos < file.size) {
    if (++stepped % TURN_EVERY_RECORDS === 0) await loopTurn();
    if (pass) {
      const h = await file.headerAt(pos);
      if (h.kind === "ok" && pos + h.header.recordLength <= file.size && pass(h.header, pos)) {
        pos += h.header.recordLength;
        goodEnd = pos;
        continue;
      }
    }
    const r = await file.decodeAt(pos);
    if (r.kind === "ok") {
      // `bytes` is a view of the read block: valid during the call only (copy it to keep it).
      // The decoded record is this scan's own, given its offset in place: a spread copy given a new
      // property costs ~1.5 us in Node 20's V8 (coordinator/catalogue/versions-sql.ts ownFields).
      const pending = onRecord(Object.assign(r.record, { offset: pos }), file.view(pos, r.record.recordLength));
      if (pending) await pending;
      pos += r.record.recordLength;
      goodEnd = pos;
      continue;
    }
    const next = r.header ? pos + r.header.recordLength : await file.findRecord(pos + 1);
    skipped.push({ offset: pos, length: next - pos, why: r.why, header: r.header });
    pos = next;
  }
  return { goodEnd, fileSize: file.size, skipped, bytesRead: file.bytesRead };
}

/** A put compaction wants, by its place in the file (the index's entry). */
export interface RecordPlace {
  blobId: string;
  offset: number;
  length: number;
}

/**
 * Records at most this far apart are read in one read, the bytes between them with them: a read
 * through the thread pool (~10 µs) costs about what copying this much more from the page cache does.
 * An estimate, not tuned: with 1 % live the reads are not what a pass spends (bench/README.md
 * "Compaction reads the live puts alone").
 */
const JOIN_GAP = 64 * 1024;

/**
 * Reads the records at `places` as the scan reads them, but only those: in file order, neighbours
 * (JOIN_GAP) in one read of at most a block, each decoded and checked whole (header and data crc32)
 * and found to be the put of the blob its place names. Stops at the first that does not check out and
 * answers it as `bad` (the caller then scans the file, which steps over the damage and reports it).
 * Compaction of a mostly dead segment reads its few live records so, not every dead one.
 * The loop gets a turn every TURN_EVERY_RECORDS / 2 records: each is decoded whole and copied.
 */
export async function readRecordsAt(
  fd: FileHandle,
  places: RecordPlace[],
  onRecord: (r: ScannedRecord, bytes: Buffer) => void | Promise<void>,
  beforeRead?: () => Promise<void>,
): Promise<{ bad?: RecordPlace; bytesRead: number }> {
  const sorted = [...places].sort((a, b) => a.offset - b.offset);
  let stepped = 0;
  let bytesRead = 0;
  for (let i = 0; i < sorted.length;) {
    const start = sorted[i].offset;
    let j = i + 1;
    while (
      j < sorted.length &&
      sorted[j].offset - (sorted[j - 1].offset + sorted[j - 1].length) <= JOIN_GAP &&
      sorted[j].offset + sorted[j].length - start <= READ_BLOCK
    )
      j++;
    if (beforeRead) await beforeRead();
    const buf = Buffer.allocUnsafe(sorted[j - 1].offset + sorted[j - 1].length - start);
    const filled = await readUpTo(fd, buf, start);
    bytesRead += filled;
    for (; i < j; i++) {
      const p = sorted[i];
      const at = p.offset - start;
      if (at + p.length > filled) return { bad: p, bytesRead };
      const r = decodeRecord(buf.subarray(0, at + p.length), at);
      if (r.kind !== "ok" || r.record.type !== PUT || r.record.blobId !== p.blobId || r.record.recordLength !== p.length)
        return { bad: p, bytesRead };
      const pending = onRecord(Object.assign(r.record, { offset: p.offset }), buf.subarray(at, at + p.length));
      if (pending) await pending;
      if (++stepped % (TURN_EVERY_RECORDS / 2) === 0) await loopTurn();
    }
  }
  return { bytesRead };
}

type Decoded = { kind: "ok"; record: DecodedRecord } | { kind: "bad"; why: string; header?: RecordHeader };

/** A window on the file, refilled in blocks. */
class BlockReader {
  private buf = Buffer.alloc(0);
  private start = 0; // file offset of buf[0]
  bytesRead = 0;

  constructor(
    private readonly fd: FileHandle,
    readonly size: number,
    private readonly beforeRead?: () => Promise<void>,
  ) {}

  view(offset: number, length: number): Buffer {
    return this.buf.subarray(offset - this.start, offset - this.start + length);
  }

  /** The record at `offset`, reading as much as it says it needs. */
  decodeAt(offset: number): Promise<Decoded> {
    return this.decodeWith(offset, decodeRecord);
  }

  /** The verified header of the record at `offset`, its data left unread. */
  headerAt(offset: number): Promise<Exclude<HeaderResult, { kind: "short" }>> {
    return this.decodeWith(offset, decodeHeader);
  }

  private async decodeWith<R extends DecodeResult | HeaderResult>(
    offset: number,
    decode: (buf: Buffer, at: number) => R,
  ): Promise<Exclude<R, { kind: "short" }> | { kind: "bad"; why: string }> {
    let need = RECORD_HEADER;
    for (;;) {
      const have = await this.ensure(offset, need);
      const r = decode(this.buf, offset - this.start);
      if (r.kind !== "short") return r as Exclude<R, { kind: "short" }>;
      if (r.need <= have) throw new Error("segment decoder asked for bytes it already had");
      if (offset + r.need > this.size) return { kind: "bad", why: "record cut short by the end of the file" };
      need = r.need;
    }
  }

  /** The first offset at or after `from` where a whole record checks out, or the file size. */
  async findRecord(from: number): Promise<number> {
    for (;;) {
      if (from + MAGIC_PREFIX.length > this.size) return this.size;
      await this.ensure(from, MAGIC_PREFIX.length);
      const hit = this.buf.indexOf(MAGIC_PREFIX, from - this.start);
      if (hit < 0) {
        // Keep the last bytes: a magic may straddle the end of the block.
        from = this.start + this.buf.length - MAGIC_PREFIX.length + 1;
        if (this.start + this.buf.length >= this.size) return this.size;
        await this.ensure(from, READ_BLOCK);
        continue;
      }
      const candidate = this.start + hit;
      if ((await this.decodeAt(candidate)).kind === "ok") return candidate;
      from = candidate + 1;
    }
  }

  /** Makes buf hold [offset, offset + need) or up to the end of the file; returns how much it holds from offset. */
  private async ensure(offset: number, need: number): Promise<number> {
    const end = Math.min(offset + need, this.size);
    if (offset >= this.start && end <= this.start + this.buf.length) return this.start + this.buf.length - offset;
    if (this.beforeRead) await this.beforeRead();
    const size = Math.min(Math.max(READ_BLOCK, need), this.size - offset);
    const buf = Buffer.allocUnsafe(size);
    const filled = await readUpTo(this.fd, buf, offset);
    this.bytesRead += filled;
    if (filled < end - offset) throw new Error("segment file shrank while scanning");
    this.buf = buf.subarray(0, filled);
    this.start = offset;
    return filled;
  }
}
