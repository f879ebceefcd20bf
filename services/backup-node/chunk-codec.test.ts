import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { CHECKS_BYTES, decodeChunk, encodeChunk, storedAt, type ChunkPlace, type StoredChunk } from "./chunk-codec";
import { compressibleBytes } from "./test-support";

const MiB = 1024 * 1024;
const AT: ChunkPlace = { blobId: "blob-1", writeId: "0123456789abcdef", seq: 3 };

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
    const back = await decodeChunk("t", storedAt(e, AT), AT);
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
    expect(await decodeChunk("t", storedAt(z, AT), AT)).toEqual(text);
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

test("decode rejects a flipped bit, a wrong length, a wrong raw size and an unknown codec or checksum form", async () => {
  const row = storedAt(await encodeChunk(compressibleBytes(200_000)), AT);
  const flipped = Buffer.from(row.data);
  flipped[100] ^= 1;
  const garbage = Buffer.from([1, 2, 3, 4]);
  const bad: StoredChunk[] = [
    { ...row, data: flipped },
    { ...row, storedSize: row.storedSize + 1 },
    { ...row, rawSize: row.rawSize - 1 },
    { ...row, codec: "zstd" },
    { ...row, checkForm: 2 },
    // A checksum that matches garbage still cannot inflate.
    { codec: "deflate", rawSize: 10, storedSize: 4, checksum: crc32(garbage), checkForm: CHECKS_BYTES, data: garbage },
  ];
  for (const r of bad) await expect(decodeChunk("t", r, AT)).rejects.toMatchObject({ name: "IntegrityError" });
});

test("a chunk's checksum binds its place: read at another blob id, write id or seq it fails", async () => {
  const row = storedAt(await encodeChunk(randomBytes(1000)), AT);
  expect((await decodeChunk("t", row, AT)).length).toBe(1000);
  const elsewhere: ChunkPlace[] = [
    { ...AT, seq: AT.seq + 1 },
    { ...AT, writeId: "0123456789abcdee" },
    { ...AT, blobId: "blob-2" },
    // The fields are length-prefixed: moving a character from one to the other is another place.
    { ...AT, blobId: "blob-10", writeId: "123456789abcdef" },
  ];
  for (const place of elsewhere) {
    await expect(decodeChunk("t", row, place)).rejects.toMatchObject({
      name: "IntegrityError",
      message: expect.stringContaining("checksum"),
    });
  }
});

test("a row of the old form (the stored bytes' CRC alone) still reads, wherever it is", async () => {
  const e = await encodeChunk(compressibleBytes(50_000));
  const old: StoredChunk = {
    codec: e.codec,
    rawSize: e.rawSize,
    storedSize: e.data.length,
    checksum: crc32(e.data),
    checkForm: CHECKS_BYTES,
    data: e.data,
  };
  expect(await decodeChunk("t", old, AT)).toEqual(compressibleBytes(50_000));
  // Its old weakness: nothing names its place.
  expect(await decodeChunk("t", old, { ...AT, seq: 0 })).toEqual(compressibleBytes(50_000));
  await expect(decodeChunk("t", { ...old, checksum: old.checksum ^ 1 }, AT)).rejects.toMatchObject({ name: "IntegrityError" });
});
