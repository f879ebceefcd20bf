import { Counter, Gauge } from "prom-client";
import { registry } from "../../common/metrics/registry";
import { Tally } from "../../common/metrics/request-metrics";

/**
 * What one cached body costs beyond its bytes, charged against the bound. Measured in a bare process
 * (--expose-gc, 20,000 entries keyed by 36-character ids, each body its own allocUnsafeSlow): 490-520
 * bytes of V8 heap an entry (the Map entry, the id string, the Buffer and its ArrayBuffer), and 1.3-1.5
 * KiB of RSS beyond the body (the heap's, and malloc's own per allocation), whatever the body's size.
 */
export const ENTRY_BYTES = 1024;

/** Which read asked: a GET's (ReplicaReader.open), or a copy's (readSmall: trash moves, tier moves, repairs). */
export type BodyRead = "get" | "copy";

const lookups = new Counter({
  name: "minis3_body_cache_lookups_total",
  help: "Small version bodies looked for in the coordinator's body cache (MINIS3_BODY_CACHE_BYTES), by read (get, copy) and outcome (hit: no node asked, miss)",
  labelNames: ["read", "outcome"],
  registers: [registry],
  collect: () => {
    for (const t of Object.values(tallies)) {
      t.hit.drain();
      t.miss.drain();
    }
  },
});
/** Counted as plain additions, handed to prom-client when a scrape reads them (request-metrics.ts Tally says why). */
const tallies: Record<BodyRead, { hit: Tally; miss: Tally }> = {
  get: { hit: new Tally(lookups.labels("get", "hit")), miss: new Tally(lookups.labels("get", "miss")) },
  copy: { hit: new Tally(lookups.labels("copy", "hit")), miss: new Tally(lookups.labels("copy", "miss")) },
};
/** Bytes held (ENTRY_BYTES included) by every body cache of this process: one, outside tests. */
let heldInProcess = 0;
new Gauge({
  name: "minis3_body_cache_bytes",
  help: "Bytes the coordinator's body cache holds, bodies and an estimate of their entries' cost (at most MINIS3_BODY_CACHE_BYTES)",
  registers: [registry],
  collect() {
    this.set(heldInProcess);
  },
});

/**
 * The bytes of recently written or read small versions (up to `maxBodySize`, the Exchange limit),
 * by version id, in the coordinator's memory: a GET of one, or a copy of it to the trash (an
 * overwrite's) or another tier, is answered without a node's round trip and without hashing the
 * body again.
 *
 * No entry is ever invalidated: a version id is made new for each upload (common/ids.ts), and a
 * version's bytes never change, wherever its copies move. Which version a key shows is the
 * catalogue's (and its read cache's) business; this answers only "the bytes of version X". So only
 * bytes known to be X's may enter: an upload's once its commit succeeded, and a node's once they
 * matched the catalogue's size and sha256 (never bytes read unchecked).
 *
 * An LRU bounded by bytes (each body's length plus ENTRY_BYTES); 0 turns it off. Each entry is a
 * copy in an allocation of its own: a body that is a slice of a larger buffer (an Exchange batch,
 * a socket read) would keep all of that buffer alive.
 */
export class BodyCache {
  /** Insertion order is recency order (a GET's hit moves its entry to the end). */
  private readonly bodies = new Map<string, Buffer>();
  private held = 0;

  constructor(
    private readonly maxBytes: number,
    readonly maxBodySize: number,
  ) {}

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  get size(): number {
    return this.bodies.size;
  }

  /** Bytes held, ENTRY_BYTES an entry included: at most maxBytes. */
  get bytes(): number {
    return this.held;
  }

  /**
   * The bytes of version `versionId`, if held (do not change them: the next reader gets the same
   * Buffer). A copy's hit leaves the entry where it is in the LRU order: a version's move to the
   * trash is usually its last read, and its GETs decide whether it is kept.
   */
  get(versionId: string, read: BodyRead): Buffer | undefined {
    if (this.maxBytes === 0) return undefined;
    const body = this.bodies.get(versionId);
    if (body === undefined) {
      tallies[read].miss.inc(1);
      return undefined;
    }
    tallies[read].hit.inc(1);
    if (read === "get") {
      this.bodies.delete(versionId);
      this.bodies.set(versionId, body);
    }
    return body;
  }

  /** Keeps a copy of `data` as version `versionId`'s bytes. The caller vouches for them (see the class). */
  put(versionId: string, data: Buffer): void {
    const cost = data.length + ENTRY_BYTES;
    if (data.length > this.maxBodySize || cost > this.maxBytes || this.bodies.has(versionId)) return;
    // Its own allocation of exactly its length: Buffer.from() and Buffer.alloc() of under 4 KiB
    // would take a slice of Node's shared 8 KiB pool.
    const copy = Buffer.allocUnsafeSlow(data.length);
    data.copy(copy);
    this.bodies.set(versionId, copy);
    this.add(cost);
    while (this.held > this.maxBytes) {
      const [oldest, body] = this.bodies.entries().next().value!;
      this.bodies.delete(oldest);
      this.add(-(body.length + ENTRY_BYTES));
    }
  }

  private add(bytes: number): void {
    this.held += bytes;
    heldInProcess += bytes;
  }
}
