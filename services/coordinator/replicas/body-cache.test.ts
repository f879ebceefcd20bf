import { randomBytes } from "node:crypto";
import { registry } from "../../common/metrics/registry";
import { BodyCache, ENTRY_BYTES } from "./body-cache";

const SMALL_MAX = 64 * 1024;

/** Room for `n` bodies of `size` bytes. */
const room = (n: number, size: number) => n * (size + ENTRY_BYTES);

async function lookups(read: string, outcome: string): Promise<number> {
  const metric = await registry.getSingleMetric("minis3_body_cache_lookups_total")!.get();
  return metric.values.find((v) => v.labels.read === read && v.labels.outcome === outcome)?.value ?? 0;
}

describe("body cache", () => {
  test("answers a version's bytes once put, and nothing for a version it does not hold", () => {
    const c = new BodyCache(room(10, 4096), SMALL_MAX);
    const data = randomBytes(4096);
    c.put("v1", data);
    expect(c.get("v1", "get")?.equals(data)).toBe(true);
    expect(c.get("v2", "get")).toBeUndefined();
  });

  test("never holds more than its bound: the least recently read go first", () => {
    const c = new BodyCache(room(3, 4096), SMALL_MAX);
    for (const id of ["v1", "v2", "v3"]) c.put(id, randomBytes(4096));
    c.get("v1", "get"); // v2 is now the oldest
    c.put("v4", randomBytes(4096));
    expect(c.get("v2", "get")).toBeUndefined();
    expect(["v1", "v3", "v4"].map((id) => c.get(id, "get") !== undefined)).toEqual([true, true, true]);
    for (let i = 0; i < 100; i++) {
      c.put(`w${i}`, randomBytes(1 + ((i * 997) % 8000)));
      expect(c.bytes).toBeLessThanOrEqual(room(3, 4096));
    }
    expect(c.size).toBeGreaterThan(0);
  });

  test("a copy's read (a trash move's) does not keep a body from going", () => {
    const c = new BodyCache(room(2, 100), SMALL_MAX);
    c.put("replaced", randomBytes(100));
    c.put("current", randomBytes(100));
    expect(c.get("replaced", "copy")).toBeDefined();
    c.put("newer", randomBytes(100));
    expect(c.get("replaced", "copy")).toBeUndefined();
    expect(c.get("current", "get")).toBeDefined();
  });

  test("keeps a copy of its own length: a slice of a larger buffer is not pinned, nor changed after", () => {
    const c = new BodyCache(room(10, 4096), SMALL_MAX);
    const big = randomBytes(256 * 1024);
    const slice = big.subarray(1000, 1000 + 4096);
    const expected = Buffer.from(slice);
    c.put("v1", slice);
    big.fill(0); // the batch buffer is reused
    const held = c.get("v1", "get")!;
    expect(held.equals(expected)).toBe(true);
    expect(held.buffer.byteLength).toBe(4096);
    // Not a slice of Node's shared pool either (Buffer.from of under 4 KiB would be).
    c.put("v2", randomBytes(100));
    expect(c.get("v2", "get")!.buffer.byteLength).toBe(100);
  });

  test("holds nothing with a bound of 0 (MINIS3_BODY_CACHE_BYTES=0)", () => {
    const c = new BodyCache(0, SMALL_MAX);
    c.put("v1", randomBytes(10));
    expect(c.get("v1", "get")).toBeUndefined();
    expect([c.size, c.bytes, c.enabled]).toEqual([0, 0, false]);
  });

  test("never holds a body over the small threshold, nor one larger than its bound", () => {
    const c = new BodyCache(room(100, SMALL_MAX), SMALL_MAX);
    c.put("large", randomBytes(SMALL_MAX + 1));
    expect(c.get("large", "get")).toBeUndefined();
    c.put("at-threshold", randomBytes(SMALL_MAX));
    expect(c.get("at-threshold", "get")).toBeDefined();
    const tiny = new BodyCache(room(1, 100), SMALL_MAX);
    tiny.put("v1", randomBytes(101));
    expect(tiny.size).toBe(0);
  });

  test("counts hits and misses by read for the metrics", async () => {
    const [hits, misses, copyHits] = [await lookups("get", "hit"), await lookups("get", "miss"), await lookups("copy", "hit")];
    const c = new BodyCache(room(10, 10), SMALL_MAX);
    c.put("v1", randomBytes(10));
    c.get("v1", "get");
    c.get("v1", "get");
    c.get("v2", "get");
    c.get("v1", "copy");
    expect(await lookups("get", "hit")).toBe(hits + 2);
    expect(await lookups("get", "miss")).toBe(misses + 1);
    expect(await lookups("copy", "hit")).toBe(copyHits + 1);
  });
});
