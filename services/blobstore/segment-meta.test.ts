import { createHash, randomBytes } from "node:crypto";
import { attributesOf, packMeta, sha256Of, storedAtOf } from "./segment-meta";

function roundTrip(attributes: Record<string, string>, storedAtMs = 1_733_400_000_123, sha256 = randomBytes(32)): string {
  const meta = packMeta(storedAtMs, sha256, attributes);
  expect(storedAtOf(meta)).toBe(storedAtMs);
  expect(sha256Of(meta).equals(sha256)).toBe(true);
  const back = attributesOf(meta);
  expect(back).toEqual(attributes);
  // The same keys in the same order: a listing shows them as they were put.
  expect(Object.keys(back)).toEqual(Object.keys(attributes));
  return meta;
}

describe("segment meta packing", () => {
  it("keeps storedAtMs and sha256 exactly, with no attributes (one shared empty form)", () => {
    for (const at of [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, 1_733_400_000_123, 2 ** 48 - 1]) roundTrip({}, at);
    roundTrip({}, 5, Buffer.alloc(32));
    roundTrip({}, 5, Buffer.alloc(32, 0xff));
    const meta = packMeta(7, createHash("sha256").update("x").digest(), {});
    expect(meta.length).toBe(38);
    // Each call answers its own Buffer and object: a caller changing one changes nothing kept.
    const sha = sha256Of(meta);
    sha[0] ^= 0xff;
    expect(sha256Of(meta).equals(createHash("sha256").update("x").digest())).toBe(true);
    const a = attributesOf(meta);
    a.x = "1";
    expect(attributesOf(meta)).toEqual({});
  });

  it("keeps attributes: a trash copy's ten, empty values, unicode, long values, many keys", () => {
    roundTrip({
      bucket: "b",
      key: "objects/0001/key-1.bin",
      versionId: "0193a1b2c3d40123456789abcdef0123456789abcdef",
      size: "1024",
      sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      etag: "d41d8cd98f00b204e9800998ecf8427e",
      contentType: "application/octet-stream",
      reason: "deleted",
      deletedAtMs: "1733400000123",
      purgeAtMs: "1733486400123",
    });
    roundTrip({ "": "", a: "" });
    roundTrip({ key: "héllo wörld/日本語/😀", ключ: "значение", "content-type": "text/plain; charset=utf-8" });
    roundTrip({ bin: "\u0000\u0001\u007f\u0080\u00ff", nl: 'a\nb"c\\d' });
    roundTrip({ long: "x".repeat(20_000), uni: "é".repeat(5_000) });
    roundTrip({ n2: "a", "10": "b", "1": "c", z: "d" });
    const many: Record<string, string> = {};
    for (let i = 0; i < 300; i++) many[`k${i}`] = `v${i}-${"é".repeat(i % 3)}`;
    roundTrip(many);
  });

  it("keeps hex values and the blob's own sha256 in hex exactly, whatever looks almost like them", () => {
    const sha = randomBytes(32);
    const hex = sha.toString("hex");
    const attrs = {
      own: hex,
      other: randomBytes(32).toString("hex"),
      etag: "d41d8cd98f00b204e9800998ecf8427e",
      upper: hex.toUpperCase(),
      mixed: "D41d8cd98f00b204",
      odd: "abcdef012",
      short: "abcdef",
      zeros: "00000000",
      quoted: '"d41d8cd98f00b204e9800998ecf8427e"',
      almostOwn: hex.slice(0, 63) + (hex[63] === "0" ? "1" : "0"),
      ownPlus: hex + "00",
    };
    const meta = roundTrip(attrs, 1, sha);
    // Kept as bytes, not chars: the own sha256 takes nothing, hex half its length.
    expect(meta.length).toBeLessThan(packMeta(1, sha, { ...attrs, own: "x".repeat(64) }).length - 60);
    roundTrip({ a: hex, b: hex }, 2, sha);
  });

  it("keeps what a shape cannot: lone surrogates, __proto__, values that are not strings", () => {
    roundTrip({ lone: "a\ud800b", low: "\udc00" });
    const proto = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>;
    const back = attributesOf(packMeta(1, randomBytes(32), proto));
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(["__proto__", "a"]);
    expect(back.a).toBe("b");
    // As the record on disk keeps them (JSON): what a reopen answered before.
    const odd = { n: 5, s: "x" } as unknown as Record<string, string>;
    expect(attributesOf(packMeta(1, randomBytes(32), odd))).toEqual({ n: 5, s: "x" });
  });

  it("tells shapes apart: the same keys in another order, a key more or less", () => {
    const sets: Record<string, string>[] = [
      { a: "1", b: "2" },
      { b: "2", a: "1" },
      { a: "1" },
      { a: "1", b: "2", c: "3" },
      { a: "1", b: "2" },
    ];
    const metas = sets.map((attrs) => [attrs, packMeta(1, randomBytes(32), attrs)] as const);
    for (const [attrs, meta] of metas) {
      expect(attributesOf(meta)).toEqual(attrs);
      expect(Object.keys(attributesOf(meta))).toEqual(Object.keys(attrs));
    }
  });

  it("refuses a sha256 that is not 32 bytes", () => {
    expect(() => packMeta(1, randomBytes(31), {})).toThrow(RangeError);
  });
});
