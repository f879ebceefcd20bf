import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { crc32 as zlibCrc32 } from "node:zlib";
import { Crc32c } from "@aws-crypto/crc32c";
import { crc32, crc32c, CRC_IMPLEMENTATION, CRC32_REQUIRE_EXPRESSION, type CrcFunction } from "./crc32";
import { crc32c as tablesCrc32c } from "./crc32c-tables";

const data = randomBytes(1024 * 1024 + 3);
const LENGTHS = [...Array.from({ length: 71 }, (_, i) => i), 4095, 4096, 65536, data.length];

/** `f` over `data` in pieces of `piece` bytes, each continuing from the last. */
function running(f: CrcFunction, piece: number): number {
  let value = 0;
  for (let i = 0; i < data.length; i += piece) value = f(data.subarray(i, i + piece), value);
  return value;
}

describe("CRC-32", () => {
  test("the SIMD binding is what runs on this platform (linux x64): losing it would double every crc32's cost", () => {
    expect(CRC_IMPLEMENTATION).toBe("simd");
  });

  test("the same values as node:zlib's on every length 0-70 and on 1 MiB, in one update or many, and from a Uint8Array view", () => {
    for (const len of LENGTHS) expect(crc32(data.subarray(0, len))).toBe(zlibCrc32(data.subarray(0, len)));
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    for (const piece of [1, 4093, 65536]) expect(running(crc32, piece)).toBe(zlibCrc32(data));
    const view = new Uint8Array(data.buffer, data.byteOffset + 5, 70_000);
    expect(crc32(view, 12345)).toBe(zlibCrc32(view, 12345));
  });

  test("a worker thread running source text (the digest thread's way) loads the same binary from the expression", async () => {
    const source = `
      const { parentPort, workerData } = require("node:worker_threads");
      const crc32 = ${CRC32_REQUIRE_EXPRESSION};
      parentPort.postMessage({ value: crc32(workerData), simd: !${JSON.stringify(CRC32_REQUIRE_EXPRESSION)}.includes("node:zlib") });`;
    const worker = new Worker(source, { eval: true, workerData: data });
    const answer = await new Promise<{ value: number; simd: boolean }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    expect(answer).toEqual({ value: zlibCrc32(data), simd: true });
  });
});

describe("CRC-32C", () => {
  for (const [name, f] of [
    ["crc32.ts's", crc32c],
    ["the tables' (the fallback)", tablesCrc32c],
  ] as const) {
    test(`${name}: known values: '123456789' is 0xE3069283 (the check value), 'hello world' 0xC99465AA`, () => {
      expect(f(Buffer.from("123456789"))).toBe(0xe3069283);
      expect(f(Buffer.from("hello world"))).toBe(0xc99465aa);
      expect(f(Buffer.alloc(0))).toBe(0);
    });

    test(`${name}: agrees with @aws-crypto/crc32c (the SDKs') on every length 0-70 and on 1 MiB, in one update or many`, () => {
      for (const len of LENGTHS) expect(f(data.subarray(0, len))).toBe(new Crc32c().update(data.subarray(0, len)).digest() >>> 0);
      expect(running(f, 9973)).toBe(new Crc32c().update(data).digest() >>> 0);
    });
  }
});
