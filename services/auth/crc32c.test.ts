import { randomBytes } from "node:crypto";
import { Crc32c } from "@aws-crypto/crc32c";
import { crc32c } from "./crc32c";

describe("CRC-32C", () => {
  test("known values: '123456789' is 0xE3069283 (the check value), 'hello world' 0xC99465AA", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.from("hello world"))).toBe(0xc99465aa);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  test("agrees with @aws-crypto/crc32c (the SDKs') on every length 0-70 and on 1 MiB, in one update or many", () => {
    const data = randomBytes(1024 * 1024 + 3);
    for (const len of [...Array.from({ length: 71 }, (_, i) => i), 4095, 65536, data.length]) {
      const theirs = new Crc32c().update(data.subarray(0, len)).digest() >>> 0;
      expect(crc32c(data.subarray(0, len))).toBe(theirs);
    }
    let running = 0;
    for (let i = 0; i < data.length; i += 9973) running = crc32c(data.subarray(i, i + 9973), running);
    expect(running).toBe(new Crc32c().update(data).digest() >>> 0);
  });
});
