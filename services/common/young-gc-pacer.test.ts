import { countFreshBodyBytes, forgetFreshBodyBytes, YOUNG_GC_EVERY_BYTES } from "./young-gc-pacer";

// The pacer asks for a young collection through `gc`, which `--expose-gc` gives a service: here a
// function that counts the asks stands in for it (jest runs without the flag).

describe("young collections paced by body bytes", () => {
  const real = globalThis.gc;
  let asked: unknown[] = [];
  beforeEach(() => {
    asked = [];
    globalThis.gc = ((options?: unknown) => void asked.push(options)) as typeof globalThis.gc;
  });
  afterAll(() => {
    globalThis.gc = real;
  });

  test("one young collection per YOUNG_GC_EVERY_BYTES, whatever the pieces' sizes", () => {
    // Socket reads as node:http hands them over: mostly 64 KiB, some a little less.
    const sizes = [65_536, 65_445, 62_144, 3_483, 29_696, 65_536, 1_000];
    let total = 0;
    for (let i = 0; total < 128 * 1024 * 1024; i++) {
      countFreshBodyBytes(sizes[i % sizes.length]);
      total += sizes[i % sizes.length];
    }
    // What earlier counts left (under one interval) may add one more, never take one away.
    expect(asked.length).toBeGreaterThanOrEqual(Math.floor(total / YOUNG_GC_EVERY_BYTES));
    expect(asked.length).toBeLessThanOrEqual(Math.floor(total / YOUNG_GC_EVERY_BYTES) + 1);
    expect(asked.every((o) => (o as { type?: string }).type === "minor")).toBe(true);
  });

  test("bodies of less than the interval share one count: one ask per interval's worth, not one per body", () => {
    for (let i = 0; i < 400; i++) countFreshBodyBytes(YOUNG_GC_EVERY_BYTES / 4);
    expect(asked).toHaveLength(100);
  });

  test("bytes of pieces freed outright (body-pieces.ts) are taken back: they ask for no collection", () => {
    forgetFreshBodyBytes(Number.MAX_SAFE_INTEGER); // what the tests before left counted
    // A large upload as the engine runs it: each MiB counted as it arrives, freed once joined.
    for (let i = 0; i < 64; i++) {
      countFreshBodyBytes(1024 * 1024);
      forgetFreshBodyBytes(1024 * 1024);
    }
    expect(asked).toHaveLength(0);
    // Taking back more than is counted leaves nothing counted, never less: the next interval is whole.
    countFreshBodyBytes(YOUNG_GC_EVERY_BYTES - 1000);
    forgetFreshBodyBytes(YOUNG_GC_EVERY_BYTES);
    countFreshBodyBytes(YOUNG_GC_EVERY_BYTES - 1);
    expect(asked).toHaveLength(0);
    countFreshBodyBytes(1);
    expect(asked).toHaveLength(1);
  });

  test("without gc (no --expose-gc) counting does nothing", () => {
    globalThis.gc = undefined;
    expect(() => countFreshBodyBytes(2 * YOUNG_GC_EVERY_BYTES)).not.toThrow();
    expect(asked).toHaveLength(0);
  });
});
