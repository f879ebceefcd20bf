import type {
  BatchRequest,
  BatchResponse,
  BlobInfo,
  BlobOp,
  BlobOpResult,
  DeleteBlobRequest,
  PutSmallBlob,
  ReadBlobRequest,
} from "../gen/minis3/v1/node";

/**
 * Hand-written protobuf codec for the Exchange stream, wire-compatible with node.proto.
 * Why: ts-proto's writer grows its buffer by doubling and copies every 4 KiB body three times
 * (measured ~26 µs per packed put to encode, ~14 µs to decode). Here one pass measures, one
 * Buffer is allocated, bodies are copied once; decoding returns views of the received message
 * for `data` (grpc-js hands every message over in a buffer of its own).
 */

const EMPTY = Buffer.alloc(0);

/**
 * Body bytes packed into one Exchange message at most, either way: well under the 16 MiB gRPC
 * message limit, past which grpc-js fails the whole stream and every op on it.
 */
export const MAX_MESSAGE_PAYLOAD = 4 * 1024 * 1024;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Two passes over the same code: measure (sizes of nested messages recorded in pre-order), then write. */
class Encoder {
  measuring = true;
  size = 0;
  private readonly lengths: number[] = [];
  private next = 0;
  buf: Buffer = EMPTY;
  pos = 0;

  varint(n: number): void {
    if (this.measuring) {
      this.size += varintSize(n);
      return;
    }
    while (n >= 128) {
      this.buf[this.pos++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  uint(field: number, n: number): void {
    if (n === 0) return;
    this.varint(field << 3);
    this.varint(n);
  }

  bool(field: number, b: boolean): void {
    if (b) this.uint(field, 1);
  }

  bytes(field: number, b: Uint8Array): void {
    if (b.length === 0) return;
    this.varint((field << 3) | 2);
    this.varint(b.length);
    if (this.measuring) this.size += b.length;
    else {
      this.buf.set(b, this.pos);
      this.pos += b.length;
    }
  }

  string(field: number, s: string, always = false): void {
    if (s.length === 0 && !always) return;
    this.varint((field << 3) | 2);
    if (this.measuring) {
      const n = Buffer.byteLength(s);
      this.lengths.push(n);
      this.size += varintSize(n) + n;
    } else {
      const n = this.lengths[this.next++];
      this.varint(n);
      this.text(s, n);
    }
  }

  /**
   * A map<string, string> entry (field `field`: key 1, value 2, both written even when empty), with
   * no [key, value] pair built for it, each string measured once (its length kept for the write
   * pass). A trash move's put carries ten attributes: encoding one (its body aside) took 4.5-5.4 µs,
   * 2.9-3.3 this way (2026-12-07, 256 puts a message).
   */
  entry(field: number, key: string, value: string): void {
    this.varint((field << 3) | 2);
    if (this.measuring) {
      const k = Buffer.byteLength(key);
      const v = Buffer.byteLength(value);
      const length = 2 + varintSize(k) + k + varintSize(v) + v;
      this.lengths.push(length, k, v);
      this.size += varintSize(length) + length;
    } else {
      this.varint(this.lengths[this.next++]);
      const k = this.lengths[this.next++];
      const v = this.lengths[this.next++];
      this.buf[this.pos++] = (1 << 3) | 2;
      this.varint(k);
      this.text(key, k);
      this.buf[this.pos++] = (2 << 3) | 2;
      this.varint(v);
      this.text(value, v);
    }
  }

  /**
   * `s` as utf8 (`n` bytes, as measured). A short ASCII string (n === its length) goes byte by byte:
   * Buffer#write's checks and native call cost more than the copy for the ids and numbers most
   * strings here are.
   */
  private text(s: string, n: number): void {
    if (n === s.length && n <= 64) {
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
      this.pos = pos;
    } else this.pos += this.buf.write(s, this.pos, n, "utf8");
  }

  message<T>(field: number, encode: (e: Encoder, value: T) => void, value: T): void {
    this.varint((field << 3) | 2);
    if (this.measuring) {
      const slot = this.lengths.length;
      this.lengths.push(0);
      const start = this.size;
      encode(this, value);
      const length = this.size - start;
      this.lengths[slot] = length;
      this.size += varintSize(length);
    } else {
      this.varint(this.lengths[this.next++]);
      encode(this, value);
    }
  }

  static run<T>(encode: (e: Encoder, value: T) => void, value: T): Buffer {
    const e = new Encoder();
    encode(e, value);
    e.measuring = false;
    e.buf = Buffer.allocUnsafe(e.size);
    encode(e, value);
    if (e.pos !== e.size) throw new Error(`exchange codec wrote ${e.pos} of ${e.size} bytes`);
    return e.buf;
  }
}

function encodeAttributes(e: Encoder, field: number, attributes: Record<string, string>): void {
  for (const key in attributes) e.entry(field, key, attributes[key]);
}
function encodeHeader(e: Encoder, h: { blobId: string; attributes: Record<string, string> }): void {
  e.string(1, h.blobId);
  encodeAttributes(e, 2, h.attributes);
}
function encodePut(e: Encoder, p: PutSmallBlob): void {
  if (p.header) e.message(1, encodeHeader, p.header);
  e.bytes(2, p.data);
  e.bytes(3, p.sha256);
  if (p.crc32 !== undefined) {
    e.varint(4 << 3); // optional: present even when 0
    e.varint(p.crc32);
  }
}
function encodeReadRequest(e: Encoder, r: ReadBlobRequest): void {
  e.string(1, r.blobId);
  e.uint(2, r.offset);
  if (r.length !== undefined) {
    e.varint(3 << 3); // optional: present even when 0
    e.varint(r.length);
  }
}
function encodeBlobIdOnly(e: Encoder, r: { blobId: string }): void {
  e.string(1, r.blobId);
}
function encodeDelete(e: Encoder, r: DeleteBlobRequest): void {
  e.string(1, r.blobId);
  // Unfenced (0): byte for byte an older coordinator's delete.
  e.uint(2, r.fenceBoot);
  e.uint(3, r.fenceSeq);
}
function encodeOp(e: Encoder, op: BlobOp): void {
  e.uint(1, op.id);
  const o = op.op;
  switch (o?.$case) {
    case "put":
      e.message(2, encodePut, o.value);
      break;
    case "get":
      e.message(3, encodeReadRequest, o.value);
      break;
    case "delete":
      e.message(4, encodeDelete, o.value);
      break;
    case "stat":
      e.message(5, encodeBlobIdOnly, o.value);
      break;
  }
  // Last, and only when set: an op without one is byte for byte what it was.
  e.string(6, op.requestId);
}
function encodeRequest(e: Encoder, r: BatchRequest): void {
  for (const op of r.ops) e.message(1, encodeOp, op);
}
function encodeInfo(e: Encoder, i: BlobInfo): void {
  e.string(1, i.blobId);
  e.uint(2, i.size);
  e.bytes(3, i.sha256);
  e.uint(4, Math.max(0, i.storedAtMs));
  encodeAttributes(e, 5, i.attributes);
}
function encodeResult(e: Encoder, r: BlobOpResult): void {
  e.uint(1, r.id);
  e.uint(2, r.code);
  e.string(3, r.message);
  if (r.blob) e.message(4, encodeInfo, r.blob);
  e.bytes(5, r.data);
  e.bool(6, r.existed);
  e.bool(7, r.fenced);
}
function encodeResponse(e: Encoder, r: BatchResponse): void {
  for (const result of r.results) e.message(1, encodeResult, result);
  e.uint(2, r.boot);
  e.uint(3, r.seq);
}

export function encodeBatchRequest(r: BatchRequest): Buffer {
  return Encoder.run(encodeRequest, r);
}
export function encodeBatchResponse(r: BatchResponse): Buffer {
  return Encoder.run(encodeResponse, r);
}

/** A cursor over one message (or a nested one: [pos, end)). */
class Decoder {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get more(): boolean {
    return this.pos < this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error("varint too long");
    }
  }

  /** A length-delimited field as a view [start, end). */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new Error("truncated field");
    return [start, this.pos];
  }

  view(): Buffer {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  copy(): Buffer {
    return Buffer.from(this.view());
  }

  string(): string {
    const [s, e] = this.span();
    return this.buf.toString("utf8", s, e);
  }

  nested(): Decoder {
    const [s, e] = this.span();
    return new Decoder(this.buf, s, e);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.span();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw new Error(`unsupported wire type ${wireType}`);
    }
  }
}

function decodeAttributeInto(d: Decoder, out: Record<string, string>): void {
  let key = "";
  let value = "";
  while (d.more) {
    const tag = d.varint();
    if (tag === ((1 << 3) | 2)) key = d.string();
    else if (tag === ((2 << 3) | 2)) value = d.string();
    else d.skip(tag & 7);
  }
  out[key] = value;
}
function decodeHeader(d: Decoder): { blobId: string; attributes: Record<string, string> } {
  const h = { blobId: "", attributes: {} as Record<string, string> };
  while (d.more) {
    const tag = d.varint();
    if (tag === ((1 << 3) | 2)) h.blobId = d.string();
    else if (tag === ((2 << 3) | 2)) decodeAttributeInto(d.nested(), h.attributes);
    else d.skip(tag & 7);
  }
  return h;
}
function decodePut(d: Decoder): PutSmallBlob {
  const p: PutSmallBlob = { header: undefined, data: EMPTY, sha256: EMPTY, crc32: undefined };
  while (d.more) {
    const tag = d.varint();
    if (tag === ((1 << 3) | 2)) p.header = decodeHeader(d.nested());
    else if (tag === ((2 << 3) | 2)) p.data = d.view();
    else if (tag === ((3 << 3) | 2))
      p.sha256 = d.copy(); // small, and often kept: do not pin the message
    else if (tag === 4 << 3) p.crc32 = d.varint();
    else d.skip(tag & 7);
  }
  return p;
}
function decodeReadRequest(d: Decoder): ReadBlobRequest {
  const r: ReadBlobRequest = { blobId: "", offset: 0, length: undefined };
  while (d.more) {
    const tag = d.varint();
    if (tag === ((1 << 3) | 2)) r.blobId = d.string();
    else if (tag === 2 << 3) r.offset = d.varint();
    else if (tag === 3 << 3) r.length = d.varint();
    else d.skip(tag & 7);
  }
  return r;
}
function decodeBlobIdOnly(d: Decoder): { blobId: string } {
  const r = { blobId: "" };
  while (d.more) {
    const tag = d.varint();
    if (tag === ((1 << 3) | 2)) r.blobId = d.string();
    else d.skip(tag & 7);
  }
  return r;
}
function decodeDelete(d: Decoder): DeleteBlobRequest {
  const r: DeleteBlobRequest = { blobId: "", fenceBoot: 0, fenceSeq: 0 };
  while (d.more) {
    const tag = d.varint();
    if (tag === ((1 << 3) | 2)) r.blobId = d.string();
    else if (tag === 2 << 3) r.fenceBoot = d.varint();
    else if (tag === 3 << 3) r.fenceSeq = d.varint();
    else d.skip(tag & 7);
  }
  return r;
}
function decodeOp(d: Decoder): BlobOp {
  const op: BlobOp = { id: 0, op: undefined, requestId: "" };
  while (d.more) {
    const tag = d.varint();
    switch (tag) {
      case 1 << 3:
        op.id = d.varint();
        break;
      case (2 << 3) | 2:
        op.op = { $case: "put", value: decodePut(d.nested()) };
        break;
      case (3 << 3) | 2:
        op.op = { $case: "get", value: decodeReadRequest(d.nested()) };
        break;
      case (4 << 3) | 2:
        op.op = { $case: "delete", value: decodeDelete(d.nested()) };
        break;
      case (5 << 3) | 2:
        op.op = { $case: "stat", value: decodeBlobIdOnly(d.nested()) };
        break;
      case (6 << 3) | 2:
        op.requestId = d.string();
        break;
      default:
        d.skip(tag & 7);
    }
  }
  return op;
}
/**
 * A BlobInfo from a node's answer, whose attributes are decoded only when read. The coordinator
 * reads none of them (it wrote them), and a trash move's put and its cold read each came back with
 * ten, two strings each: decodeInfo was ~5 % of the coordinator's samples in the lifecycle bench's
 * trash phase; an answer with ten decoded 2.8-6.2 µs, 0.8-1.6 this way (2026-12-07, 256 answers a
 * message). The entries' bytes are copied out (a few hundred bytes), so the info never pins the
 * message it came in.
 */
export class AnswerBlobInfo implements BlobInfo {
  blobId = "";
  size = 0;
  sha256: Buffer = EMPTY;
  storedAtMs = 0;
  #entries: Buffer | undefined = undefined;
  #attributes: Record<string, string> | undefined = undefined;

  /** The attribute entries as received: field-5 entries of a BlobInfo message (any other field is skipped). */
  setEntries(entries: Buffer): void {
    this.#entries = entries;
    this.#attributes = undefined;
  }

  get attributes(): Record<string, string> {
    if (this.#attributes === undefined) {
      const out: Record<string, string> = {};
      const raw = this.#entries;
      if (raw) {
        const d = new Decoder(raw, 0, raw.length);
        while (d.more) {
          const tag = d.varint();
          if (tag === ((5 << 3) | 2)) decodeAttributeInto(d.nested(), out);
          else d.skip(tag & 7);
        }
      }
      this.#attributes = out;
      this.#entries = undefined;
    }
    return this.#attributes;
  }

  set attributes(a: Record<string, string>) {
    this.#attributes = a;
    this.#entries = undefined;
  }
}

function decodeInfo(d: Decoder): BlobInfo {
  const i = new AnswerBlobInfo();
  // Where the attribute entries begin and end (tag included): the node writes them last, together.
  let from = -1;
  let to = -1;
  while (d.more) {
    const at = d.pos;
    const tag = d.varint();
    if (tag === ((5 << 3) | 2)) {
      d.skip(2);
      if (from < 0) from = at;
      to = d.pos;
      continue;
    }
    switch (tag) {
      case (1 << 3) | 2:
        i.blobId = d.string();
        break;
      case 2 << 3:
        i.size = d.varint();
        break;
      case (3 << 3) | 2:
        i.sha256 = d.copy();
        break;
      case 4 << 3:
        i.storedAtMs = d.varint();
        break;
      default:
        d.skip(tag & 7);
    }
  }
  if (from >= 0) i.setEntries(Buffer.from(d.buf.subarray(from, to)));
  return i;
}
function decodeResult(d: Decoder): BlobOpResult {
  const r: BlobOpResult = { id: 0, code: 0, message: "", blob: undefined, data: EMPTY, existed: false, fenced: false };
  while (d.more) {
    const tag = d.varint();
    switch (tag) {
      case 1 << 3:
        r.id = d.varint();
        break;
      case 2 << 3:
        r.code = d.varint();
        break;
      case (3 << 3) | 2:
        r.message = d.string();
        break;
      case (4 << 3) | 2:
        r.blob = decodeInfo(d.nested());
        break;
      case (5 << 3) | 2:
        r.data = d.view();
        break;
      case 6 << 3:
        r.existed = d.varint() !== 0;
        break;
      case 7 << 3:
        r.fenced = d.varint() !== 0;
        break;
      default:
        d.skip(tag & 7);
    }
  }
  return r;
}

export function decodeBatchRequest(buf: Buffer): BatchRequest {
  const d = new Decoder(buf, 0, buf.length);
  const ops: BlobOp[] = [];
  while (d.more) {
    const tag = d.varint();
    if (tag === ((1 << 3) | 2)) ops.push(decodeOp(d.nested()));
    else d.skip(tag & 7);
  }
  return { ops };
}

export function decodeBatchResponse(buf: Buffer): BatchResponse {
  const d = new Decoder(buf, 0, buf.length);
  const r: BatchResponse = { results: [], boot: 0, seq: 0 };
  while (d.more) {
    const tag = d.varint();
    if (tag === ((1 << 3) | 2)) r.results.push(decodeResult(d.nested()));
    else if (tag === 2 << 3) r.boot = d.varint();
    else if (tag === 3 << 3) r.seq = d.varint();
    else d.skip(tag & 7);
  }
  return r;
}
