import { CostBoundedRead } from "./cost-bounded-read";

// The tier totals scan every version: a large catalogue's answer is kept for a multiple of what its
// read cost (its time, or the rows it read), a small one's never, and callers asking at once share one read.

/** A read that takes `tookMs` on a hand-moved clock and answers how many times it ran. */
function clockedReads(tookMs: () => number) {
  let now = 0;
  let reads = 0;
  const cached = new CostBoundedRead(
    async () => {
      reads++;
      now += tookMs();
      return reads;
    },
    { costFactor: 20, freeBelowMs: 250, now: () => now },
  );
  return { cached, advance: (ms: number) => (now += ms), reads: () => reads };
}

test("a read that took longer than the free limit is answered from memory until 20 times its length has passed", async () => {
  const { cached, advance, reads } = clockedReads(() => 1_000);
  expect(await cached.get()).toBe(1);
  advance(19_000);
  expect(cached.isDue()).toBe(false);
  expect(await cached.get()).toBe(1);
  expect(reads()).toBe(1);
  advance(1_000);
  expect(cached.isDue()).toBe(true);
  expect(await cached.get()).toBe(2);
  expect(reads()).toBe(2);
});

test("a read quicker than the free limit is taken again every time: a small catalogue answers fresh", async () => {
  const { cached, reads } = clockedReads(() => 249);
  expect(await cached.get()).toBe(1);
  expect(await cached.get()).toBe(2);
  expect(await cached.get()).toBe(3);
  expect(reads()).toBe(3);
});

test("the interval follows the last read: a catalogue that shrank is read fresh again", async () => {
  let took = 1_000;
  const { cached, advance, reads } = clockedReads(() => took);
  await cached.get();
  advance(20_000);
  took = 10;
  await cached.get();
  await cached.get();
  expect(reads()).toBe(3);
});

test("callers asking while a read runs share it", async () => {
  let release!: (n: number) => void;
  let calls = 0;
  const cached = new CostBoundedRead(
    () => {
      calls++;
      return new Promise<number>((r) => (release = r));
    },
    { costFactor: 20, freeBelowMs: 0 },
  );
  const both = Promise.all([cached.get(), cached.get()]);
  release(7);
  expect(await both).toEqual([7, 7]);
  expect(calls).toBe(1);
});

test("a failed read rejects its callers and the next one reads again", async () => {
  let calls = 0;
  const cached = new CostBoundedRead(
    async () => {
      calls++;
      if (calls === 1) throw new Error("MariaDB away");
      return calls;
    },
    { costFactor: 20, freeBelowMs: 0 },
  );
  await expect(cached.get()).rejects.toThrow("MariaDB away");
  expect(await cached.get()).toBe(2);
});

test("an answer is kept at least keepAtLeastMs however cheap its read, and forget() has the next get read again", async () => {
  let now = 0;
  let reads = 0;
  const cached = new CostBoundedRead(async () => ++reads, { costFactor: 20, freeBelowMs: 250, keepAtLeastMs: 1_000, now: () => now });
  expect(await cached.get()).toBe(1);
  now += 999;
  expect(await cached.get()).toBe(1);
  now += 1;
  expect(await cached.get()).toBe(2);
  cached.forget();
  expect(await cached.get()).toBe(3);
});

test("a read priced by what it read: a slow read of little is not kept, a quick read of much is", async () => {
  let now = 0;
  let rows = 10;
  let took = 5_000;
  const cached = new CostBoundedRead(
    async () => {
      now += took;
      return rows;
    },
    { costFactor: 20, freeBelowMs: 250, costMs: (n) => n / 1000, now: () => now },
  );
  await cached.get();
  expect(cached.isDue()).toBe(true);
  rows = 1_000_000;
  took = 1;
  await cached.get();
  now += 19_000;
  expect(cached.isDue()).toBe(false);
  now += 1_000;
  expect(cached.isDue()).toBe(true);
});
