/**
 * A small blob's meta as the segment index keeps it: ONE one-byte string per blob, decoded only when
 * asked (stat, list, a read's check). Measured after a reopen (bench/micro/segment-heap.ts, 200,000
 * puts of 1 KiB): the sha256 as a Buffer cost 96 bytes of heap + 32 of pool a blob, storedAtMs a
 * heap number (16), an empty attributes object 32, a trash copy's ten attributes as an object and
 * ten strings ~420; as one string they are 16 bytes of header and their bytes (822 -> 469 bytes a trash
 * copy with them as utf8, -> 376 with its hex values as bytes and its sha256 attribute as the blob's own).
 *
 *   0 storedAtMs u48 | 6 sha256 (32) | 38 attributes: nothing when there are none, else a tag:
 *     SHAPED: shape u16, then per key of the shape: varint(length * 4 + kind), then by kind:
 *       ASCII: the value's chars | UTF8: its utf8 bytes | HEX (lowercase, even, 8 chars or more): the
 *       bytes it spells, half as many | OWN_SHA256 (the blob's own sha256 in hex, as a trash copy's
 *       `sha256` attribute is): nothing
 *     JSON:   the attributes' JSON as utf8 (a value not a string or not well-formed utf16, `__proto__`, too many shapes)
 *
 * Every char is one byte (0-255): V8 keeps the string one byte per char. A shape is a list of keys in
 * order, shared by every blob that has it (a trash copy's ten keys once a process, not once a blob).
 */
const STORED_AT = 0;
const SHA256 = 6;
const ATTRIBUTES = 38;
const SHAPED = 1;
const JSON_TAG = 2;
/** Shapes known at most (process-wide): past it, attributes of new shapes are kept as JSON. */
const MAX_SHAPES = 4096;
/** How a shaped value is kept: a trash copy's etag and versionId are hex, its sha256 the blob's own. */
const ASCII = 0;
const UTF8 = 1;
const HEX = 2;
const OWN_SHA256 = 3;
const LOWER_HEX = /^(?:[0-9a-f]{2}){4,}$/;

const shapes: string[][] = [];
const shapeIds = new Map<string, number>();
let lastShape = -1;

let scratch = Buffer.allocUnsafe(4096);

/** Grows the scratch to `need` bytes, keeping what is written in it. */
function room(need: number): void {
  if (scratch.length >= need) return;
  const grown = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  scratch.copy(grown);
  scratch = grown;
}

/** The packed meta of a blob (see the layout above). `sha256` must be 32 bytes. */
export function packMeta(storedAtMs: number, sha256: Buffer, attributes: Record<string, string>): string {
  if (sha256.length !== 32) throw new RangeError("a segment blob's sha256 is 32 bytes");
  room(ATTRIBUTES);
  scratch.writeUIntBE(storedAtMs, STORED_AT, 6);
  sha256.copy(scratch, SHA256);
  let end = ATTRIBUTES;
  const keys = Object.keys(attributes);
  if (keys.length) {
    const shape = shapeOf(keys, attributes);
    end = shape === undefined ? -1 : packShaped(shape, keys, attributes);
    if (end < 0) end = packJson(attributes);
  }
  return scratch.toString("latin1", 0, end);
}

export function storedAtOf(meta: string): number {
  let v = 0;
  for (let i = STORED_AT; i < STORED_AT + 6; i++) v = v * 256 + meta.charCodeAt(i);
  return v;
}

/** A new Buffer each call (callers may keep it). */
export function sha256Of(meta: string): Buffer {
  return Buffer.from(meta.slice(SHA256, SHA256 + 32), "latin1");
}

/** A new object each call. */
export function attributesOf(meta: string): Record<string, string> {
  if (meta.length === ATTRIBUTES) return {};
  if (meta.charCodeAt(ATTRIBUTES) === JSON_TAG) {
    return JSON.parse(Buffer.from(meta.slice(ATTRIBUTES + 1), "latin1").toString("utf8")) as Record<string, string>;
  }
  const keys = shapes[meta.charCodeAt(ATTRIBUTES + 1) * 256 + meta.charCodeAt(ATTRIBUTES + 2)];
  const out: Record<string, string> = {};
  let at = ATTRIBUTES + 3;
  for (const key of keys) {
    let n = 0;
    let shift = 1;
    for (;;) {
      const c = meta.charCodeAt(at++);
      n += (c & 0x7f) * shift;
      if (c < 0x80) break;
      shift *= 128;
    }
    const kind = n % 4;
    const length = (n - kind) / 4;
    if (kind === OWN_SHA256) {
      out[key] = sha256Of(meta).toString("hex");
      continue;
    }
    const value = meta.slice(at, at + length);
    at += length;
    // Chars of a latin1 string are the value's bytes: the value itself only when they are all ASCII.
    out[key] = kind === ASCII ? value : Buffer.from(value, "latin1").toString(kind === HEX ? "hex" : "utf8");
  }
  return out;
}

/** The shape of these keys (registered if new), or undefined: kept as JSON then. */
function shapeOf(keys: string[], attributes: Record<string, string>): number | undefined {
  for (const key of keys) {
    // `__proto__` would set the prototype when decoded by assignment; JSON.parse makes it a property.
    if (typeof attributes[key] !== "string" || key === "__proto__") return undefined;
  }
  if (lastShape >= 0 && sameKeys(shapes[lastShape], keys)) return lastShape;
  const signature = JSON.stringify(keys);
  let id = shapeIds.get(signature);
  if (id === undefined) {
    if (shapes.length >= MAX_SHAPES) return undefined;
    id = shapes.length;
    shapes.push(Object.freeze(keys) as string[]);
    shapeIds.set(signature, id);
  }
  lastShape = id;
  return id;
}

function sameKeys(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The end of the packed meta, or -1 if a value would not survive utf8 (a lone surrogate): JSON escapes it. */
function packShaped(shape: number, keys: string[], attributes: Record<string, string>): number {
  let at = ATTRIBUTES;
  room(at + 3);
  scratch[at++] = SHAPED;
  scratch[at++] = shape >> 8;
  scratch[at++] = shape & 0xff;
  let ownSha: string | undefined;
  for (const key of keys) {
    const value = attributes[key];
    let kind = ASCII;
    let bytes = value.length;
    if (value.length === 64 && value === (ownSha ??= scratch.toString("hex", SHA256, SHA256 + 32))) {
      kind = OWN_SHA256;
      bytes = 0;
    } else if (LOWER_HEX.test(value)) {
      kind = HEX;
      bytes = value.length / 2;
    } else {
      bytes = Buffer.byteLength(value, "utf8");
      // Any char outside ASCII takes two bytes or more in utf8: as many bytes as chars means ASCII.
      if (bytes !== value.length) {
        if (!(value as unknown as { isWellFormed(): boolean }).isWellFormed()) return -1;
        kind = UTF8;
      }
    }
    let n = bytes * 4 + kind;
    room(at + 8 + bytes);
    while (n >= 0x80) {
      scratch[at++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    scratch[at++] = n;
    if (kind !== OWN_SHA256) at += scratch.write(value, at, bytes, kind === HEX ? "hex" : "utf8");
  }
  return at;
}

function packJson(attributes: Record<string, string>): number {
  const json = JSON.stringify(attributes);
  const bytes = Buffer.byteLength(json, "utf8");
  room(ATTRIBUTES + 1 + bytes);
  scratch[ATTRIBUTES] = JSON_TAG;
  return ATTRIBUTES + 1 + scratch.write(json, ATTRIBUTES + 1, bytes, "utf8");
}
