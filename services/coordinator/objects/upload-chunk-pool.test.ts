import { setTimeout as sleep } from "node:timers/promises";
import { inService, requireCompiled } from "../../../test/support/in-service";
import { UploadChunkPool } from "./upload-chunk-pool";

const MiB = 1024 * 1024;

const chunks = (n: number, bytes = 16): Buffer[] => Array.from({ length: n }, () => Buffer.alloc(bytes));

test("a pool keeps whole chunks up to its burst size, and hands back the ones it was given", () => {
  const pool = new UploadChunkPool(16, 2, 5, 60_000);
  const given = chunks(7);
  pool.give([...given, Buffer.alloc(8)]); // the short one is no whole chunk
  expect(pool.size).toBe(5);
  const taken = [pool.take(), pool.take()];
  expect(taken.every((c) => c !== undefined && given.includes(c))).toBe(true);
  expect(pool.size).toBe(3);
});

test("each window a pool lets go of the chunks that sat unused through it, down to the ones it always keeps", async () => {
  // Margins of hundreds of ms either side: a loaded CI worker's timers run late, never early.
  const windowMs = 1000;
  const pool = new UploadChunkPool(16, 2, 10, windowMs);
  pool.give(chunks(8)); // the window starts
  await sleep(300);
  const used = [pool.take(), pool.take(), pool.take()] as Buffer[];
  pool.give(used); // 5 of the 8 sat through the window
  await sleep(200);
  expect(pool.size).toBe(8); // the window is not over
  await sleep(1000);
  expect(pool.size).toBe(3); // the 5 unused went; the 3 an upload took stay
  const kept = [pool.take(), pool.take(), pool.take()];
  expect(new Set(kept)).toEqual(new Set(used));
  pool.give(used); // taken from in this window: nothing goes at its end; the next one is idle
  await sleep(2 * windowMs + 300);
  expect(pool.size).toBe(2); // a window with none taken: all but `keep`
  // Below `keep` nothing is let go, however long it idles.
  pool.take();
  await sleep(windowMs + 300);
  expect(pool.size).toBe(1);
});

test("a pool taken from all the time still lets go of what its uploads do not take", async () => {
  // One upload after another, each taking one chunk: the burst's other seven are not needed.
  const pool = new UploadChunkPool(16, 2, 10, 300);
  pool.give(chunks(8));
  for (let i = 0; i < 12; i++) {
    pool.give([pool.take()!]);
    await sleep(100);
  }
  expect(pool.size).toBe(2);
});

test("what a pool lets go of, or has no room for, is freed at once, not left for a collection", () => {
  const got = inService(`
    const { UploadChunkPool } = ${requireCompiled("services/coordinator/objects/upload-chunk-pool.js")};
    const { allocChunk } = ${requireCompiled("services/rpc/wire/blob-stream-codec.js")};
    const MiB = 1024 * 1024;
    const pool = new UploadChunkPool(MiB, 1, 3, 100);
    const chunks = Array.from({ length: 5 }, (_, i) => allocChunk(MiB).fill(i + 1));
    const before = process.memoryUsage().arrayBuffers;
    pool.give(chunks);
    const overflow = { sizes: chunks.map((c) => c.length), freedMiB: (before - process.memoryUsage().arrayBuffers) / MiB };
    setTimeout(() => {
      const kept = pool.take();
      console.log(JSON.stringify({ overflow, size: pool.size, kept: kept.length === MiB && kept[0] >= 1 && kept[0] <= 3 && kept.every((b) => b === kept[0]),
        emptied: chunks.filter((c) => c.length === 0).length, freedMiB: (before - process.memoryUsage().arrayBuffers) / MiB }));
    }, 300);
  `);
  // Room for 3: the last two given were freed there and then; the first three kept intact.
  const overflow = got.overflow as { sizes: number[]; freedMiB: number };
  expect(overflow.sizes).toEqual([MiB, MiB, MiB, 0, 0]);
  expect(overflow.freedMiB).toBeGreaterThanOrEqual(2); // each with its few bytes of message header
  // Idle: all but the one it always keeps freed, and that one still the bytes it was given (one of the three kept).
  expect(got).toMatchObject({ size: 0, kept: true, emptied: 4 });
  expect(got.freedMiB).toBeGreaterThanOrEqual(4);
});
