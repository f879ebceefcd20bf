import { crc32 } from "node:zlib";

/**
 * One record of a segment file: a put (a small blob with its meta) or a tombstone (a delete).
 *
 *   0 magic u32 | 4 crc32 u32 of bytes 8..end | 8 type u8 | 9 id length u8 | 10 attributes length u16
 *  12 data length u32 | 16 seq u48 | 22 stored-at ms u48 | 28 sha256 (32) | 60 id, attributes JSON, data
 *
 * The crc covers everything after itself, so a record torn by a crash mid-append is detected.
 * seq orders records across segments: compaction moves records, and the highest seq of an id wins.
 */
export const RECORD_MAGIC = 0x4d335347; // "M3SG"
export const RECORD_HEADER = 60;
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
}

export interface DecodedRecord {
  type: RecordType;
  blobId: string;
  attributes: Record<string, string>;
  seq: number;
  storedAtMs: number;
  sha256: Buffer;
  /** Offset of the data from the start of the record. */
  dataStart: number;
  dataLength: number;
  recordLength: number;
}

/** The record as iovecs: [header + id + attributes, data] (the data Buffer is not copied). */
export function encodeRecord(r: RecordInput): { iov: Buffer[]; length: number; dataStart: number } {
  const id = Buffer.from(r.blobId, "utf8");
  const attrs = Object.keys(r.attributes).length ? Buffer.from(JSON.stringify(r.attributes), "utf8") : Buffer.alloc(0);
  if (id.length > 255) throw new RangeError("blob id too long for a segment record");
  if (attrs.length > 0xffff) throw new RangeError("attributes too large for a segment record");
  const data = r.data ?? Buffer.alloc(0);
  const head = Buffer.allocUnsafe(RECORD_HEADER + id.length + attrs.length);
  head.writeUInt32BE(RECORD_MAGIC, 0);
  head.writeUInt8(r.type, 8);
  head.writeUInt8(id.length, 9);
  head.writeUInt16BE(attrs.length, 10);
  head.writeUInt32BE(data.length, 12);
  head.writeUIntBE(r.seq, 16, 6);
  head.writeUIntBE(r.storedAtMs, 22, 6);
  (r.sha256 ?? ZERO_SHA).copy(head, 28);
  id.copy(head, RECORD_HEADER);
  attrs.copy(head, RECORD_HEADER + id.length);
  const crc = crc32(data, crc32(head.subarray(8)));
  head.writeUInt32BE(crc, 4);
  return { iov: data.length ? [head, data] : [head], length: head.length + data.length, dataStart: head.length };
}

export type DecodeResult =
  | { kind: "ok"; record: DecodedRecord }
  | { kind: "short"; need: number } // the buffer ends inside the record
  | { kind: "bad"; why: string };

/** Decodes the record at buf[at...]; `buf` may end early (then "short" says how many bytes it needs). */
export function decodeRecord(buf: Buffer, at: number): DecodeResult {
  const avail = buf.length - at;
  if (avail < RECORD_HEADER) return { kind: "short", need: RECORD_HEADER };
  if (buf.readUInt32BE(at) !== RECORD_MAGIC) return { kind: "bad", why: "bad magic" };
  const type = buf.readUInt8(at + 8);
  if (type !== PUT && type !== TOMBSTONE) return { kind: "bad", why: `unknown record type ${type}` };
  const idLength = buf.readUInt8(at + 9);
  const attrsLength = buf.readUInt16BE(at + 10);
  const dataLength = buf.readUInt32BE(at + 12);
  if (dataLength > MAX_RECORD_DATA) return { kind: "bad", why: "data length out of range" };
  const dataStart = RECORD_HEADER + idLength + attrsLength;
  const recordLength = dataStart + dataLength;
  if (avail < recordLength) return { kind: "short", need: recordLength };
  const crc = crc32(buf.subarray(at + 8, at + recordLength));
  if (crc !== buf.readUInt32BE(at + 4)) return { kind: "bad", why: "crc mismatch" };
  let attributes: Record<string, string> = {};
  if (attrsLength) {
    try {
      attributes = JSON.parse(buf.toString("utf8", at + RECORD_HEADER + idLength, at + dataStart)) as Record<string, string>;
    } catch {
      return { kind: "bad", why: "unreadable attributes" };
    }
  }
  return {
    kind: "ok",
    record: {
      type: type as RecordType,
      blobId: buf.toString("utf8", at + RECORD_HEADER, at + RECORD_HEADER + idLength),
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
