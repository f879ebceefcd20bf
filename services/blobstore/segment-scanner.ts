import type { FileHandle } from "node:fs/promises";
import { decodeRecord, type DecodedRecord } from "./segment-record";

const READ_BLOCK = 4 * 1024 * 1024;

export interface ScannedRecord extends DecodedRecord {
  /** Offset of the record in the file. */
  offset: number;
}

export interface ScanResult {
  /** End of the last good record: where a torn tail starts, or the file size. */
  goodEnd: number;
  fileSize: number;
  /** Why the scan stopped before the end of the file (a torn or corrupt record). */
  problem?: string;
}

/**
 * Reads a segment front to back in large blocks, calling onRecord for each intact record. Stops at
 * the first record that is incomplete or fails its crc: the caller decides whether to truncate.
 * onRecord may return a promise (compaction does, to bound what it has in flight): it is awaited.
 * Memory: one block (or one record, if larger).
 */
export async function scanSegment(
  fd: FileHandle,
  onRecord: (r: ScannedRecord, bytes: Buffer) => void | Promise<void>,
): Promise<ScanResult> {
  const fileSize = (await fd.stat()).size;
  let buf = Buffer.alloc(0);
  let bufStart = 0; // file offset of buf[0]
  let at = 0; // offset within buf
  for (;;) {
    const offset = bufStart + at;
    if (offset >= fileSize) return { goodEnd: offset, fileSize };
    const r = decodeRecord(buf, at);
    if (r.kind === "ok") {
      // `bytes` is a view of the read block: valid during the call only (copy it to keep it).
      const pending = onRecord({ ...r.record, offset }, buf.subarray(at, at + r.record.recordLength));
      if (pending) await pending;
      at += r.record.recordLength;
      continue;
    }
    if (r.kind === "bad") return { goodEnd: offset, fileSize, problem: r.why };
    // Short: refill from this record's start, with room for the whole record.
    if (offset + r.need > fileSize) return { goodEnd: offset, fileSize, problem: "record cut short by the end of the file" };
    const size = Math.min(Math.max(READ_BLOCK, r.need), fileSize - offset);
    buf = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await fd.read(buf, filled, size - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled < r.need) return { goodEnd: offset, fileSize, problem: "file shrank while scanning" };
    buf = buf.subarray(0, filled);
    bufStart = offset;
    at = 0;
  }
}
