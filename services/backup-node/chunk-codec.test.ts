import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { decodeChunk, encodeChunk } from "./chunk-codec";
import { compressibleBytes } from "./test-support";

const MiB = 1024 * 1024;

test("compressible chunks are deflated, incompressible ones kept raw, and both decode", async () => {
  const text = compressibleBytes(MiB);
  const random = randomBytes(MiB);
  const tiny = Buffer.from("abc");
  const z = await encodeChunk(text);
  const r = await encodeChunk(random);
  const t = await encodeChunk(tiny);
  expect([z.codec, r.codec, t.codec]).toEqual(["deflate", "raw", "raw"]);
  expect(z.data.length).toBeLessThan(MiB / 4);
  expect(r.data).toBe(random); // no copy when stored raw
  for (const [e, raw] of [
    [z, text],
    [r, random],
    [t, tiny],
  ] as const) {
    expect(e.checksum).toBe(crc32(e.data));
    const back = await decodeChunk("t", e.codec, e.rawSize, e.data.length, e.checksum, e.data);
    expect(back.equals(raw)).toBe(true);
  }
});

test("small chunks: compressible ones are deflated, random ones kept raw", async () => {
  for (const size of [100, 4096, 16 * 1024]) {
    const text = compressibleBytes(size);
    const random = randomBytes(size);
    const z = await encodeChunk(text);
    const r = await encodeChunk(random);
    expect([z.codec, r.codec]).toEqual(["deflate", "raw"]);
    expect(r.data).toBe(random);
    expect(await decodeChunk("t", z.codec, z.rawSize, z.data.length, z.checksum, z.data)).toEqual(text);
  }
  // Few distinct bytes but no repeats deflate can use still measure low entropy: deflated if it pays.
  const fewSymbols = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 13));
  expect((await encodeChunk(fewSymbols)).codec).toBe("deflate");
});

test("a chunk saving less than ~10% is stored raw", async () => {
  // 95% random, 5% zeros: deflate saves about 5%.
  const mostlyRandom = Buffer.concat([randomBytes(MiB * 0.95), Buffer.alloc(MiB * 0.05)]);
  expect((await encodeChunk(mostlyRandom)).codec).toBe("raw");
  expect((await encodeChunk(Buffer.alloc(0))).codec).toBe("raw");
});

test("decode rejects a flipped bit, a wrong length, a wrong raw size and an unknown codec", async () => {
  const e = await encodeChunk(compressibleBytes(200_000));
  const flipped = Buffer.from(e.data);
  flipped[100] ^= 1;
  const bad = [
    () => decodeChunk("t", e.codec, e.rawSize, e.data.length, e.checksum, flipped),
    () => decodeChunk("t", e.codec, e.rawSize, e.data.length + 1, e.checksum, e.data),
    () => decodeChunk("t", e.codec, e.rawSize - 1, e.data.length, e.checksum, e.data),
    () => decodeChunk("t", "zstd", e.rawSize, e.data.length, e.checksum, e.data),
    // A checksum that matches garbage still cannot inflate.
    () => decodeChunk("t", "deflate", 10, 4, crc32(Buffer.from([1, 2, 3, 4])), Buffer.from([1, 2, 3, 4])),
  ];
  for (const decode of bad) await expect(decode()).rejects.toMatchObject({ name: "IntegrityError" });
});
