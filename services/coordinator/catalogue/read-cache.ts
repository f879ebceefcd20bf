import type { VersionRow } from "../model/version-row";

/**
 * What one cached row costs the heap, estimated: ROW_BYTES for the row object, its arrays and
 * numbers and its entries in the two maps, plus STRING_BYTES and a byte a character for each of its
 * strings (the key twice: the map's key string joins bucket and key). Measured in a bare process
 * (--expose-gc, heap used after a full collection, 10,000 rows shaped like the bench's: 36-character
 * ids, 3 replicas): 1,347 bytes a row against 1,417 estimated; with 2,000 characters of user metadata
 * 3,343 against 3,453. Characters outside Latin-1 take two bytes, so such rows are counted short.
 */
export const ROW_BYTES = 1000;
const STRING_BYTES = 16;

export function rowBytes(row: VersionRow): number {
  let n = ROW_BYTES + 2 * (row.bucket.length + row.key.length) + row.versionId.length + row.sha256.length;
  n += row.etag.length + row.contentType.length + (row.requestId?.length ?? 0) + 8 * STRING_BYTES;
  for (const r of row.replicas) n += STRING_BYTES + r.length;
  for (const c of row.cleanup) n += STRING_BYTES + c.length;
  for (const [k, v] of Object.entries(row.metadata)) n += 2 * STRING_BYTES + k.length + v.length;
  return n;
}

/** A cached row with its rowBytes(), counted once when it is cached (not again when it goes). */
interface Held {
  row: VersionRow;
  bytes: number;
}

/**
 * Visible versions by key, kept by the Catalogue so a GET or HEAD of a recently seen key costs no
 * MariaDB round trip (half the small-object load is reads, and a round trip costs more CPU here
 * than the statement in it).
 *
 * Correctness rests on two rules:
 * - Every change any coordinator commits is reported (changed()): this coordinator's own once
 *   committed, its peers' through the invalidation bus (cluster/invalidation-bus.ts), which holds
 *   their acknowledgement until this cache has dropped the keys or lost its lease. A lookup that
 *   was already on its way then cannot fill the cache with what it read: each lookup takes a
 *   ticket (a sequence number) first, and fill() refuses it if its key or version changed since.
 * - The cache answers only within one unbroken stretch of holding its lease (`stretch()`, the
 *   bus's), and only with what it read in that stretch: when a stretch ends (a stall, Redis away,
 *   its connection lost), everything cached, and every lookup in flight, is dropped, because
 *   invalidations may have been missed meanwhile.
 */
export class ReadCache {
  /** Insertion order is recency order (a hit moves its entry to the end). */
  private readonly rows = new Map<string, Held>();
  /** rowBytes() of every row held. */
  private held = 0;
  private readonly keyOfVersion = new Map<string, string>();
  private seq = 0;
  /** Fills with tickets below this are refused (set by clear() and by forgetting old marks). */
  private validFrom = 0;
  /**
   * When each key (keyOf) and each version id last changed; two generations. Two maps rather than
   * one of prefixed strings: a prefix made a new string to hash per key and version of every change.
   */
  private keyMarks = new Map<string, number>();
  private olderKeyMarks = new Map<string, number>();
  private versionMarks = new Map<string, number>();
  private olderVersionMarks = new Map<string, number>();
  private marksSince = 0;
  private rotatedAtMs = Date.now();
  /** The stretch the cached rows were read in (undefined: none, no lease); null before the first look. */
  private filledIn: number | undefined | null = null;

  /**
   * `maxBytes` bounds the rows' heap (rowBytes()), not their number: a row carries the object's
   * user metadata (up to 2 KiB), so 10,000 rows were 13 MB of heap without metadata and 33 MB with 2 KiB.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly stretch: () => number | undefined,
    private readonly markLifetimeMs = 5_000,
  ) {}

  get size(): number {
    return this.rows.size;
  }

  /** The rows' estimated heap (rowBytes()), at most maxBytes. */
  get bytes(): number {
    return this.held;
  }

  /** Whether it may answer now. */
  get enabled(): boolean {
    return this.maxBytes > 0 && this.stretch() !== undefined;
  }

  /** The cached visible version of a key, if the cache may answer. */
  get(bucket: string, key: string): VersionRow | undefined {
    if (!this.usable()) return undefined;
    const k = keyOf(bucket, key);
    const held = this.rows.get(k);
    if (held) {
      this.rows.delete(k);
      this.rows.set(k, held);
    }
    return held?.row;
  }

  /** Take before a lookup is sent; hand to fill() with what it found (only in the same stretch). */
  ticket(): number {
    this.usable(); // a stretch that ended since the last call is closed first: this ticket is of the new one
    return this.seq;
  }

  fill(ticket: number, row: VersionRow | null): void {
    if (!row || this.maxBytes === 0 || !this.usable() || ticket < this.validFrom) return;
    const k = keyOf(row.bucket, row.key);
    if (changedSince(this.keyMarks, this.olderKeyMarks, k, ticket)) return;
    if (changedSince(this.versionMarks, this.olderVersionMarks, row.versionId, ticket)) return;
    this.set(k, row);
  }

  /**
   * Keys and versions whose rows a committed change touched: their entries go, and lookups already
   * in flight will not bring them back. `current`, for a commit, is the key's new visible version:
   * it is cached if nothing else touched the key since `ticket` (taken when the commit began).
   */
  changed(
    keys: readonly { bucket: string; key: string }[],
    versionIds: readonly string[],
    current?: { ticket: number; row: VersionRow },
  ): void {
    this.rotateMarks();
    const currentKey = current && keyOf(current.row.bucket, current.row.key);
    // usable() first: a stretch that ended while the commit ran drops it as any lookup in flight (its
    // ticket falls below validFrom), for a peer's change made in the gap may not have been heard.
    const undisturbed =
      current !== undefined &&
      this.maxBytes > 0 &&
      this.usable() &&
      current.ticket >= this.validFrom &&
      !changedSince(this.keyMarks, this.olderKeyMarks, currentKey!, current.ticket);
    const at = ++this.seq;
    for (const { bucket, key } of keys) {
      const k = keyOf(bucket, key);
      this.keyMarks.set(k, at);
      this.drop(k);
    }
    for (const id of versionIds) {
      this.versionMarks.set(id, at);
      const k = this.keyOfVersion.get(id);
      if (k !== undefined) this.drop(k);
    }
    if (undisturbed) this.set(currentKey!, current.row);
  }

  /** Access times just written to the catalogue, so cached rows say what the database says. */
  accessed(times: ReadonlyMap<string, number>): void {
    for (const [id, ms] of times) {
      const k = this.keyOfVersion.get(id);
      const held = k === undefined ? undefined : this.rows.get(k);
      if (held && held.row.versionId === id && ms > held.row.accessedMs) held.row = { ...held.row, accessedMs: ms }; // same bytes
    }
  }

  private clear(): void {
    this.rows.clear();
    this.held = 0;
    this.keyOfVersion.clear();
    this.validFrom = ++this.seq;
  }

  private usable(): boolean {
    const stretch = this.stretch();
    if (stretch !== this.filledIn) {
      // Rows, and lookups in flight, from before: an invalidation may have been missed since.
      if (this.filledIn !== null) this.clear();
      this.filledIn = stretch;
    }
    return stretch !== undefined;
  }

  private set(k: string, row: VersionRow): void {
    this.drop(k);
    const bytes = rowBytes(row);
    if (bytes > this.maxBytes) return;
    this.rows.set(k, { row, bytes });
    this.held += bytes;
    this.keyOfVersion.set(row.versionId, k);
    while (this.held > this.maxBytes) this.drop(this.rows.keys().next().value!);
  }

  private drop(k: string): void {
    const held = this.rows.get(k);
    if (!held) return;
    this.rows.delete(k);
    this.held -= held.bytes;
    if (this.keyOfVersion.get(held.row.versionId) === k) this.keyOfVersion.delete(held.row.versionId);
  }

  /** Marks are kept for two lifetimes; a lookup older than that (rare) may not fill. */
  private rotateMarks(): void {
    const now = Date.now();
    if (now - this.rotatedAtMs < this.markLifetimeMs) return;
    this.olderKeyMarks = this.keyMarks;
    this.keyMarks = new Map();
    this.olderVersionMarks = this.versionMarks;
    this.versionMarks = new Map();
    this.validFrom = Math.max(this.validFrom, this.marksSince);
    this.marksSince = this.seq;
    this.rotatedAtMs = now;
  }
}

function keyOf(bucket: string, key: string): string {
  return `${bucket}\u0000${key}`;
}

/** Whether `name`'s mark (in either generation) is newer than `ticket`. */
function changedSince(marks: Map<string, number>, older: Map<string, number>, name: string, ticket: number): boolean {
  return (marks.get(name) ?? older.get(name) ?? 0) > ticket;
}
