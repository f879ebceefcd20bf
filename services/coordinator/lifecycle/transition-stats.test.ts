import { TransitionStats } from "./transition-stats";

describe("transition lateness", () => {
  test("quantiles are the upper edge of their 10 ms bucket, never below the true value", () => {
    const s = new TransitionStats("demote");
    for (let i = 0; i < 98; i++) s.recordMoved(42);
    s.recordMoved(730);
    s.recordMoved(2999);
    const v = s.view(3, 5);
    expect(v).toMatchObject({ kind: "demote", moved: 100, failed: 0, backingOff: 3, inFlight: 5 });
    expect(v.latenessMs).toEqual({ p50: 50, p99: 740, max: 2999 });
  });

  test("beyond 5 s in whole seconds, capped at the largest seen; early moves count as on time", () => {
    const s = new TransitionStats("purge");
    s.recordMoved(-20);
    s.recordMoved(12_345);
    expect(s.quantile(0.5)).toBe(10);
    expect(s.quantile(1)).toBe(12_345);
    expect(new TransitionStats("trash").view(0, 0).latenessMs).toEqual({ p50: null, p99: null, max: null });
  });
});
