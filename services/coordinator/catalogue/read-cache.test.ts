import { ReadCache, rowBytes } from "./read-cache";
import type { VersionRow } from "../model/version-row";

const row = (key: string, versionId: string, extra: Partial<VersionRow> = {}): VersionRow => ({
  versionId,
  bucket: "b",
  key,
  size: 1,
  sha256: "s",
  etag: "e",
  contentType: "t",
  metadata: {},
  state: "live",
  tier: "hot",
  replicas: ["storage-1"],
  cleanup: [],
  createdMs: 1,
  accessedMs: 1,
  deletedMs: null,
  purgeMs: null,
  reason: null,
  gen: 0,
  requestId: null,
  ...extra,
});

describe("read cache", () => {
  // Stands in for CoordinatorPresence.aloneStretch().
  let alone = true;
  let stretch = 1;
  /** Room for `rows` rows like row()'s (one-letter keys and ids). */
  const room = (rows: number) => rows * rowBytes(row("k", "v1"));
  const make = (max = room(100)) => new ReadCache(max, () => (alone ? stretch : undefined));
  beforeEach(() => {
    alone = true;
    stretch = 1;
  });

  test("a lookup fills it and the next read of the key is answered from it", () => {
    const c = make();
    const t = c.ticket();
    c.fill(t, row("k", "v1"));
    expect(c.get("b", "k")?.versionId).toBe("v1");
    expect(c.get("b", "other")).toBeUndefined();
  });

  test("a lookup that was in flight while the key changed does not bring the old row back", () => {
    const c = make();
    const t = c.ticket(); // lookup sent, reads v1
    c.changed([{ bucket: "b", key: "k" }], ["v2", "v1"]); // an overwrite commits meanwhile
    c.fill(t, row("k", "v1"));
    expect(c.get("b", "k")).toBeUndefined();
  });

  test("a change to a version (tier move, new replicas) drops the key that shows it, and blocks stale fills", () => {
    const c = make();
    c.fill(c.ticket(), row("k", "v1"));
    const t = c.ticket();
    c.changed([], ["v1"]);
    expect(c.get("b", "k")).toBeUndefined();
    c.fill(t, row("k", "v1", { tier: "hot" }));
    expect(c.get("b", "k")).toBeUndefined();
    c.fill(c.ticket(), row("k", "v1", { tier: "cold" }));
    expect(c.get("b", "k")?.tier).toBe("cold");
  });

  test("a commit caches its row unless another change to the key came between its start and end", () => {
    const c = make();
    const t1 = c.ticket();
    c.changed([{ bucket: "b", key: "k" }], ["v1"], { ticket: t1, row: row("k", "v1") });
    expect(c.get("b", "k")?.versionId).toBe("v1");

    const t2 = c.ticket(); // upload of v2 begins
    c.changed([{ bucket: "b", key: "k" }], ["v1"]); // a delete of the key ends first
    c.changed([{ bucket: "b", key: "k" }], ["v2"], { ticket: t2, row: row("k", "v2") });
    expect(c.get("b", "k")).toBeUndefined(); // which one the database kept is not known here
  });

  test("it answers only while this coordinator is alone, and forgets everything once it was not", () => {
    const c = make();
    c.fill(c.ticket(), row("k", "v1"));
    alone = false;
    expect(c.get("b", "k")).toBeUndefined();
    c.fill(c.ticket(), row("k", "v1"));
    alone = true;
    expect(c.get("b", "k")).toBeUndefined(); // another coordinator may have overwritten it meanwhile
    const t = c.ticket();
    alone = false;
    c.get("b", "x"); // the cache notices it is not alone
    alone = true;
    c.fill(t, row("k", "v1")); // a lookup from before that period
    expect(c.get("b", "k")).toBeUndefined();
  });

  test("a new stretch of being alone drops what the last one cached, even when no read saw the gap", () => {
    const c = make();
    c.fill(c.ticket(), row("k", "v1"));
    const t = c.ticket();
    stretch = 2; // a late look: another coordinator may have come, written and gone meanwhile
    expect(c.get("b", "k")).toBeUndefined();
    c.fill(t, row("k", "v1")); // a lookup from the earlier stretch
    expect(c.get("b", "k")).toBeUndefined();
    c.fill(c.ticket(), row("k", "v2"));
    expect(c.get("b", "k")?.versionId).toBe("v2");
  });

  test("its rows' estimated bytes stay within its bound, the least recently read dropped first; 0 turns it off", () => {
    const c = make(room(2));
    c.fill(c.ticket(), row("a", "va"));
    c.fill(c.ticket(), row("b", "vb"));
    c.get("b", "a");
    c.fill(c.ticket(), row("c", "vc"));
    expect(c.size).toBe(2);
    expect(c.bytes).toBe(room(2));
    expect(c.get("b", "b")).toBeUndefined();
    expect(c.get("b", "a")?.versionId).toBe("va");
    const off = make(0);
    off.fill(off.ticket(), row("a", "va"));
    off.changed([{ bucket: "b", key: "a" }], ["va"], { ticket: 0, row: row("a", "va") });
    expect(off.get("b", "a")).toBeUndefined();
  });

  test("rows with metadata take more of the bound: the same bytes hold fewer of them", () => {
    const c = make(room(100));
    const metadata = { note: "x".repeat(2000) }; // S3 allows 2 KiB of user metadata
    for (let i = 0; i < 100; i++) c.fill(c.ticket(), row(`k${i}`, `v${i}`, { metadata }));
    expect(c.bytes).toBeLessThanOrEqual(room(100));
    expect(c.size).toBeLessThan(40);
    expect(c.get("b", "k99")?.versionId).toBe("v99");
    // A row larger than the whole bound is not kept, and pushes nothing out.
    const tiny = make(room(1));
    tiny.fill(tiny.ticket(), row("a", "va"));
    tiny.fill(tiny.ticket(), row("big", "vbig", { metadata }));
    expect(tiny.get("b", "big")).toBeUndefined();
    expect(tiny.get("b", "a")?.versionId).toBe("va");
  });

  test("a change, and a stretch that ends, give back the bytes of the rows they drop", () => {
    const c = make();
    c.fill(c.ticket(), row("a", "va"));
    c.fill(c.ticket(), row("b", "vb"));
    c.changed([{ bucket: "b", key: "a" }], []);
    expect(c.bytes).toBe(room(1));
    stretch = 2;
    expect(c.get("b", "b")).toBeUndefined();
    expect(c.bytes).toBe(0);
  });

  // (issue 16, coordhot) Each row's bytes are counted once, when it is cached: whatever drops it
  // (a change, eviction, a newer fill, a version's change) gives back exactly what it took.
  test("its byte count is always the sum of rowBytes() over the rows it holds, whatever came and went", () => {
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    const c = make(room(25));
    let n = 0;
    let seed = 7;
    const next = (m: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % m;
    for (let step = 0; step < 3000; step++) {
      const key = keys[next(keys.length)];
      const metadata: Record<string, string> = next(3) === 0 ? { note: "m".repeat(next(300)) } : {};
      const r = row(key, `v${++n}`, { metadata, replicas: ["storage-1", "storage-2"].slice(0, 1 + next(2)) });
      const op = next(4);
      if (op === 0) c.fill(c.ticket(), r);
      else if (op === 1) c.changed([{ bucket: "b", key }], [], { ticket: c.ticket(), row: r });
      else if (op === 2) c.changed([], [`v${n - 1 - next(20)}`]);
      else c.accessed(new Map([[`v${n - 1 - next(5)}`, step + 10]]));
    }
    const held = keys.map((k) => c.get("b", k)).filter((r) => r !== undefined);
    expect(held.length).toBe(c.size);
    expect(c.bytes).toBe(held.reduce((sum, r) => sum + rowBytes(r), 0));
    expect(c.bytes).toBeLessThanOrEqual(room(25));
    expect(c.size).toBeGreaterThan(5); // the sequence did keep rows
  });

  test("written access times reach cached rows", () => {
    const c = make();
    c.fill(c.ticket(), row("k", "v1", { accessedMs: 5 }));
    c.accessed(
      new Map([
        ["v1", 50],
        ["v9", 70],
      ]),
    );
    expect(c.get("b", "k")?.accessedMs).toBe(50);
  });

  test("marks outlive a slow lookup only up to their lifetime; an older lookup may not fill", () => {
    const c = new ReadCache(room(100), () => 1, 0); // marks rotate at every change
    const t = c.ticket();
    c.changed([{ bucket: "b", key: "x" }], []);
    c.changed([{ bucket: "b", key: "y" }], []);
    c.changed([{ bucket: "b", key: "z" }], []);
    c.fill(t, row("k", "v1"));
    expect(c.get("b", "k")).toBeUndefined();
    c.fill(c.ticket(), row("k", "v1"));
    expect(c.get("b", "k")?.versionId).toBe("v1");
  });
});
