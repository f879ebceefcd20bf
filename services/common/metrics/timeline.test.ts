import { Timeline } from "./timeline";

describe("Timeline", () => {
  it("keeps, per second and series, how many events there were and their largest and total value", () => {
    const t = new Timeline(10);
    t.record("page", 5, 1_000_100);
    t.record("page", 12, 1_000_900);
    t.record("gc.minor", 2, 1_000_950);
    t.record("page", 1, 1_001_000);
    expect(t.view()).toEqual([
      { at: 1_000_000, series: { page: { n: 2, max: 12, sum: 17 }, "gc.minor": { n: 1, max: 2, sum: 2 } } },
      { at: 1_001_000, series: { page: { n: 1, max: 1, sum: 1 } } },
    ]);
    expect(t.view(1_000_500).map((s) => s.at)).toEqual([1_001_000]);
  });

  it("forgets the oldest seconds once its ring is full (fixed memory)", () => {
    const t = new Timeline(3);
    for (let s = 0; s < 5; s++) t.record("late", s, 1_000_000 + s * 1000);
    expect(t.view().map((s) => s.series.late.max)).toEqual([2, 3, 4]);
  });

  it("keeps a negative value as the largest when it is the only one", () => {
    const t = new Timeline(3);
    t.record("pickup", -20, 5_000);
    expect(t.view()[0].series.pickup).toEqual({ n: 1, max: -20, sum: -20 });
  });
});
