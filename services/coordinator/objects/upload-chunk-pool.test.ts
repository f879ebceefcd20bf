import { setTimeout as sleep } from "node:timers/promises";
import { UploadChunkPool } from "./upload-chunk-pool";

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

test("an idle pool lets go of all but the chunks it always keeps; one taken from waits its idle time again", async () => {
  // Margins of hundreds of ms either side: a loaded CI worker's timers run late, never early.
  const idleMs = 600;
  const pool = new UploadChunkPool(16, 2, 10, idleMs);
  pool.take();
  pool.give(chunks(8));
  await sleep(idleMs / 2);
  expect(pool.take()).toBeDefined(); // still coming: nothing let go
  pool.give(chunks(1));
  await sleep(idleMs / 2 + 100);
  expect(pool.size).toBe(8); // idle for less than idleMs since that take, though more since the first
  await sleep(idleMs + 200);
  expect(pool.size).toBe(2);
  // Below `keep` nothing is let go, however long it idles.
  pool.take();
  await sleep(idleMs + 200);
  expect(pool.size).toBe(1);
});
