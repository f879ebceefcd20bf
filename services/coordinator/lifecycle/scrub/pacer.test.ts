import { Pacer } from "./pacer";

/** A clock that only moves when the pacer sleeps: what it waits is exactly what it asked for. */
function fakeTime() {
  let now = 1000;
  const waits: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      waits.push(ms);
      now += ms;
    },
    advance: (ms: number) => (now += ms),
    waits,
    elapsed: () => now - 1000,
  };
}

describe("scrub pacer", () => {
  test("reading N bytes at R bytes/s takes N/R seconds, whatever the mix of sizes", async () => {
    const t = fakeTime();
    const p = new Pacer(1_000_000, t.now, t.sleep);
    const sizes = [4096, 2_000_000, 10, 500_000, 4096, 1_481_798];
    for (const s of sizes) await p.take(s);
    // The last take reserves its own time after it starts: the wait is for what came before it.
    const before = sizes.slice(0, -1).reduce((a, b) => a + b, 0);
    expect(t.elapsed()).toBeCloseTo(before / 1000, 6);
  });

  test("the first read goes at once; the next waits for the first one's share", async () => {
    const t = fakeTime();
    const p = new Pacer(4 * 1024 * 1024, t.now, t.sleep);
    await p.take(8 * 1024 * 1024);
    expect(t.waits).toEqual([]);
    await p.take(1);
    expect(t.waits).toEqual([2000]);
  });

  test("idle time is not banked: after a pause the rate holds from then on, with no burst", async () => {
    const t = fakeTime();
    const p = new Pacer(1000, t.now, t.sleep);
    await p.take(1000);
    t.advance(60_000); // idle a minute
    await p.take(1000); // its turn has long come
    await p.take(1000);
    await p.take(1000);
    expect(t.waits).toEqual([1000, 1000]);
  });

  test("concurrent takes queue one after another at the rate", async () => {
    const t = fakeTime();
    const waits: number[] = [];
    // Time stands still while they all reserve: each waits one more second than the one before.
    const p = new Pacer(100, t.now, async (ms) => void waits.push(ms));
    await Promise.all([0, 1, 2, 3].map(() => p.take(100)));
    expect(waits).toEqual([1000, 2000, 3000]);
  });

  test("with a quantum, takes whose turns fall in one quantum wake together at its end, at the same rate", async () => {
    const t = fakeTime(); // starts at 1000 ms
    const wakes: number[] = [];
    const p = new Pacer(64_000, t.now, async (ms) => void wakes.push(t.now() + ms), 250);
    // 1 ms of reading each: turns at 1000 (at once), 1001, …, 1299.
    await Promise.all(Array.from({ length: 300 }, () => p.take(64)));
    expect(wakes.length).toBe(299);
    expect(new Set(wakes)).toEqual(new Set([1250, 1500])); // 1001–1250 wake at 1250, 1251–1299 at 1500
    expect(wakes.filter((w) => w === 1250).length).toBe(250);
    // The reservations are those of a pacer without a quantum: 300 ms for 300 takes.
    await p.take(64);
    expect(wakes[wakes.length - 1]).toBe(1500); // turn 1300 wakes at the end of its quantum
  });

  test("a stop aborts a long wait", async () => {
    const p = new Pacer(1); // real timers: one byte a second
    await p.take(3600); // reserves an hour
    const ac = new AbortController();
    const waiting = p.take(1, ac.signal);
    ac.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
  });

  test("refuses a rate of 0 (the scrubber is off then, it builds no pacer)", () => {
    expect(() => new Pacer(0)).toThrow(RangeError);
  });
});
