/**
 * A small blob's meta as the segment index keeps it: ONE one-byte string per blob, decoded only when
 * asked (stat, list, a read's check). Measured after a reopen (bench/micro/segment-heap.ts, 200,000
 * puts of 1 KiB): the sha256 as a Buffer cost 96 bytes of heap + 32 of pool a blob, storedAtMs a
 * heap number (16), an empty attributes object 32, a trash copy's ten attributes as an object and
 * ten strings ~420; as one string they are 16 bytes of header and their bytes.
 *
 *   0 storedAtMs u48 | 6 sha256 (32) | 38 attributes: nothing when there are none, else a tag:
 *     SHAPED: shape u16, then per key of the shape: varint(byteLength * 2 + nonAscii), the value's utf8
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
    const length = Math.floor(n / 2);
    const value = meta.slice(at, at + length);
    // Chars of a latin1 string are the value's utf8 bytes: the same only when they are all ASCII.
    out[key] = n % 2 ? Buffer.from(value, "latin1").toString("utf8") : value;
    at += length;
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
  for (const key of keys) {
    const value = attributes[key];
    const bytes = Buffer.byteLength(value, "utf8");
    // Any char outside ASCII takes two bytes or more in utf8: as many bytes as chars means ASCII.
    const ascii = bytes === value.length;
    if (!ascii && !(value as unknown as { isWellFormed(): boolean }).isWellFormed()) return -1;
    let n = bytes * 2 + (ascii ? 0 : 1);
    room(at + 8 + bytes);
    while (n >= 0x80) {
      scratch[at++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    scratch[at++] = n;
    at += scratch.write(value, at, bytes, "utf8");
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
