import { crc32 } from "../common/crc32";

/**
 * One record of a segment file: a put (a small blob with its meta) or a tombstone (a delete).
 *
 *   0 magic u32 "M3S2" | 4 header crc32 u32 of bytes 8..dataStart | 8 data crc32 u32
 *  12 type u8 | 13 id length u8 | 14 attributes length u16 | 16 data length u32 | 20 seq u48
 *  26 stored-at ms u48 | 32 sha256 (32) | 64 id, attributes JSON, data
 *
 * Two checksums so that a damaged record can be stepped over: when only the data is bad, the
 * header (verified) still gives the record's length and what it was; only a bad header makes the
 * scanner search for the next record (segment-scanner.ts). A torn append fails one or the other.
 * seq orders records across segments: compaction moves records, and the highest seq of an id wins.
 *
 * A tombstone's data is the list of segments (u32 each) that held the puts it cancels, when it was
 * written: it must be carried forward by compaction only while one of them still exists.
 *
 * Version 1 ("M3SG", a 60-byte header with one crc over everything after it, and tombstones with
 * no data) is still read: segments written before version 2 keep working.
 */
export const RECORD_MAGIC = 0x4d335332; // "M3S2"
export const RECORD_MAGIC_V1 = 0x4d335347; // "M3SG"
/** What every record starts with, whatever its version: the scanner resyncs on it. */
export const MAGIC_PREFIX = Buffer.from("M3S", "latin1");
export const RECORD_HEADER = 64;
const RECORD_HEADER_V1 = 60;
export const MAX_RECORD_DATA = 64 * 1024 * 1024;

export const PUT = 1;
export const TOMBSTONE = 2;
export type RecordType = typeof PUT | typeof TOMBSTONE;

const ZERO_SHA = Buffer.alloc(32);

export interface RecordInput {
  type: RecordType;
  blobId: string;
  attributes: Record<string, string>;
  seq: number;
  storedAtMs: number;
  sha256?: Buffer;
  data?: Buffer;
  /** crc32(data) when the caller has taken it already (a put checked by its sender's crc32): not taken again. */
  dataCrc?: number;
  /** Tombstones: the segments holding the puts it cancels. */
  shadows?: number[];
}

/** What a verified header says: enough to step over the record and know what was lost. */
export interface RecordHeader {
  type: number;
  blobId: string;
  seq: number;
  recordLength: number;
}

export interface DecodedRecord extends RecordHeader {
  type: RecordType;
  attributes: Record<string, string>;
  storedAtMs: number;
  sha256: Buffer;
  /** Offset of the data from the start of the record. */
  dataStart: number;
  dataLength: number;
  /** Tombstones of version 2: the segments that held the puts it cancels (version 1: unknown). */
  shadows?: number[];
}

/** The record as iovecs: [header + id + attributes, data] (the data Buffer is not copied). */
export function encodeRecord(r: RecordInput): { iov: Buffer[]; length: number; dataStart: number } {
  const id = Buffer.from(r.blobId, "utf8");
  const attrs = Object.keys(r.attributes).length ? Buffer.from(JSON.stringify(r.attributes), "utf8") : Buffer.alloc(0);
  if (id.length > 255) throw new RangeError("blob id too long for a segment record");
  if (attrs.length > 0xffff) throw new RangeError("attributes too large for a segment record");
  const data = r.shadows ? encodeShadows(r.shadows) : (r.data ?? Buffer.alloc(0));
  const head = Buffer.allocUnsafe(RECORD_HEADER + id.length + attrs.length);
  head.writeUInt32BE(RECORD_MAGIC, 0);
  head.writeUInt32BE(r.dataCrc ?? crc32(data), 8);
  head.writeUInt8(r.type, 12);
  head.writeUInt8(id.length, 13);
  head.writeUInt16BE(attrs.length, 14);
  head.writeUInt32BE(data.length, 16);
  head.writeUIntBE(r.seq, 20, 6);
  head.writeUIntBE(r.storedAtMs, 26, 6);
  (r.sha256 ?? ZERO_SHA).copy(head, 32);
  id.copy(head, RECORD_HEADER);
  attrs.copy(head, RECORD_HEADER + id.length);
  head.writeUInt32BE(crc32(head.subarray(8)), 4);
  return { iov: data.length ? [head, data] : [head], length: head.length + data.length, dataStart: head.length };
}

export type DecodeResult =
  | { kind: "ok"; record: DecodedRecord }
  | { kind: "short"; need: number } // the buffer ends inside the record
  /** header: set when the header checked out (only the data is bad), so the record can be stepped over. */
  | { kind: "bad"; why: string; header?: RecordHeader };

/** Decodes the record at buf[at...]; `buf` may end early (then "short" says how many bytes it needs). */
export function decodeRecord(buf: Buffer, at: number): DecodeResult {
  if (buf.length - at < 4) return { kind: "short", need: RECORD_HEADER };
  const magic = buf.readUInt32BE(at);
  if (magic === RECORD_MAGIC) return decodeV2(buf, at);
  if (magic === RECORD_MAGIC_V1) return decodeV1(buf, at);
  return { kind: "bad", why: "bad magic" };
}

/**
 * The verified header of the version-2 record at buf[at...], without reading its data: enough to
 * step over a record the reader does not want (compaction passing a dead put). "none" for a
 * version-1 record, whose one checksum covers its data: it has to be decoded whole.
 */
export function decodeHeader(buf: Buffer, at: number): HeaderResult {
  const avail = buf.length - at;
  if (avail < RECORD_HEADER) return { kind: "short", need: RECORD_HEADER };
  if (buf.readUInt32BE(at) !== RECORD_MAGIC) return { kind: "none" };
  const idLength = buf.readUInt8(at + 13);
  const attrsLength = buf.readUInt16BE(at + 14);
  const dataStart = RECORD_HEADER + idLength + attrsLength;
  if (avail < dataStart) return { kind: "short", need: dataStart };
  if (crc32(buf.subarray(at + 8, at + dataStart)) !== buf.readUInt32BE(at + 4)) return { kind: "bad", why: "header crc mismatch" };
  const dataLength = buf.readUInt32BE(at + 16);
  // A verified header can still be absurd (written by a bug): then it is not trusted to step over.
  if (dataLength > MAX_RECORD_DATA) return { kind: "bad", why: "data length out of range" };
  const header: RecordHeader = {
    type: buf.readUInt8(at + 12),
    blobId: buf.toString("utf8", at + RECORD_HEADER, at + RECORD_HEADER + idLength),
    seq: buf.readUIntBE(at + 20, 6),
    recordLength: dataStart + dataLength,
  };
  return { kind: "ok", header, dataStart, dataLength };
}

export type HeaderResult =
  | { kind: "ok"; header: RecordHeader; dataStart: number; dataLength: number }
  | { kind: "short"; need: number }
  | { kind: "bad"; why: string }
  | { kind: "none" };

/** The data crc32 the version-2 record at buf[at...] holds (its header checked by decodeHeader first). */
export function storedDataCrc(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at + 8);
}

function decodeV2(buf: Buffer, at: number): DecodeResult {
  const h = decodeHeader(buf, at);
  if (h.kind === "none") return { kind: "bad", why: "bad magic" };
  if (h.kind !== "ok") return h;
  const { header, dataStart, dataLength } = h;
  const { type, recordLength } = header;
  if (buf.length - at < recordLength) return { kind: "short", need: recordLength };
  if (type !== PUT && type !== TOMBSTONE) return { kind: "bad", why: `unknown record type ${type}`, header };
  const data = buf.subarray(at + dataStart, at + recordLength);
  if (crc32(data) !== storedDataCrc(buf, at)) return { kind: "bad", why: "data crc mismatch", header };
  if (type === TOMBSTONE && dataLength % 4 !== 0) return { kind: "bad", why: "tombstone data is not a segment list", header };
  const attributes = parseAttributes(buf, at + RECORD_HEADER + buf.readUInt8(at + 13), at + dataStart);
  if (!attributes) return { kind: "bad", why: "unreadable attributes", header };
  // Built field by field: a spread with fields added after it cost ~3.7 µs per record in Node 20's V8
  // (30 ns written out), most of what a tombstone cost compaction and a record the start-up scan
  // (bench/README.md "Compaction in the overwrite rows, and a record decoded without a spread").
  return {
    kind: "ok",
    record: {
      type: type as RecordType,
      blobId: header.blobId,
      seq: header.seq,
      recordLength,
      attributes,
      storedAtMs: buf.readUIntBE(at + 26, 6),
      sha256: Buffer.from(buf.subarray(at + 32, at + 64)),
      dataStart,
      dataLength,
      shadows: type === TOMBSTONE ? decodeShadows(data) : undefined,
    },
  };
}

/** Version 1: 0 magic | 4 crc32 of bytes 8..end | 8 type u8 | 9 id length u8 | 10 attributes length u16 | 12 data length u32 | 16 seq u48 | 22 stored-at u48 | 28 sha256 | 60 id, attributes, data */
function decodeV1(buf: Buffer, at: number): DecodeResult {
  const avail = buf.length - at;
  if (avail < RECORD_HEADER_V1) return { kind: "short", need: RECORD_HEADER_V1 };
  const type = buf.readUInt8(at + 8);
  if (type !== PUT && type !== TOMBSTONE) return { kind: "bad", why: `unknown record type ${type}` };
  const idLength = buf.readUInt8(at + 9);
  const attrsLength = buf.readUInt16BE(at + 10);
  const dataLength = buf.readUInt32BE(at + 12);
  if (dataLength > MAX_RECORD_DATA) return { kind: "bad", why: "data length out of range" };
  const dataStart = RECORD_HEADER_V1 + idLength + attrsLength;
  const recordLength = dataStart + dataLength;
  if (avail < recordLength) return { kind: "short", need: recordLength };
  if (crc32(buf.subarray(at + 8, at + recordLength)) !== buf.readUInt32BE(at + 4)) return { kind: "bad", why: "crc mismatch" };
  const attributes = parseAttributes(buf, at + RECORD_HEADER_V1 + idLength, at + dataStart);
  if (!attributes) return { kind: "bad", why: "unreadable attributes" };
  return {
    kind: "ok",
    record: {
      type: type as RecordType,
      blobId: buf.toString("utf8", at + RECORD_HEADER_V1, at + RECORD_HEADER_V1 + idLength),
      attributes,
      seq: buf.readUIntBE(at + 16, 6),
      storedAtMs: buf.readUIntBE(at + 22, 6),
      sha256: Buffer.from(buf.subarray(at + 28, at + 60)),
      dataStart,
      dataLength,
      recordLength,
    },
  };
}

function parseAttributes(buf: Buffer, from: number, to: number): Record<string, string> | undefined {
  if (from === to) return {};
  try {
    return JSON.parse(buf.toString("utf8", from, to)) as Record<string, string>;
  } catch {
    return undefined;
  }
}

function encodeShadows(ids: number[]): Buffer {
  const b = Buffer.allocUnsafe(ids.length * 4);
  ids.forEach((id, i) => b.writeUInt32BE(id, i * 4));
  return b;
}

function decodeShadows(data: Buffer): number[] {
  const ids: number[] = [];
  for (let i = 0; i + 4 <= data.length; i += 4) ids.push(data.readUInt32BE(i));
  return ids;
}
