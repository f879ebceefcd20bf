import { RepairThrottle } from "./repair-throttle";

/** A clock that only moves when the throttle sleeps. */
function fakeTime() {
  let now = 0;
  return { now: () => now, sleep: async (ms: number) => void (now += ms), advance: (ms: number) => (now += ms) };
}

describe("repair throttle", () => {
  test("copies go at the rate: 4 MB at 1 MB/s take 3 s of waiting before the fourth", async () => {
    const t = fakeTime();
    const th = new RepairThrottle(1_000_000, () => 1, t.now, t.sleep);
    for (let i = 0; i < 4; i++) await th.take(1_000_000, 1);
    expect(t.now()).toBe(3000);
  });

  test("two coordinators each take half of the cluster-wide rate", async () => {
    const t = fakeTime();
    const th = new RepairThrottle(1_000_000, () => 2, t.now, t.sleep);
    for (let i = 0; i < 4; i++) await th.take(1_000_000, 1);
    expect(t.now()).toBe(6000);
  });

  test("a small copy costs at least 64 KiB; two copies cost twice", async () => {
    const t = fakeTime();
    const th = new RepairThrottle(65_536, () => 1, t.now, t.sleep);
    await th.take(10, 2);
    await th.take(10, 1);
    expect(t.now()).toBe(2000);
  });

  test("rate 0 never waits", async () => {
    const t = fakeTime();
    const th = new RepairThrottle(0, () => 1, t.now, t.sleep);
    for (let i = 0; i < 4; i++) await th.take(1_000_000_000, 2);
    expect(t.now()).toBe(0);
  });

  test("measures what was copied over the last 10 s", () => {
    const t = fakeTime();
    const th = new RepairThrottle(0, () => 1, t.now, t.sleep);
    th.copied(50_000);
    t.advance(5000);
    th.copied(50_000);
    expect(th.measured()).toEqual({ bytesPerSecond: 10_000, totalBytes: 100_000 });
    t.advance(6000);
    expect(th.measured()).toEqual({ bytesPerSecond: 5_000, totalBytes: 100_000 });
  });
});
