import { GroupWritePolicy } from "./group-write-policy";

/** Runs `groups` small groups through the policy; `ms(onLoop)` says how long each sync took. */
function run(p: GroupWritePolicy, groups: number, ms: (onLoop: boolean) => number): { onLoop: number } {
  let onLoop = 0;
  for (let i = 0; i < groups; i++) {
    const here = p.syncOnLoop(4096);
    if (here) onLoop++;
    p.synced(ms(here), here);
  }
  return { onLoop };
}

describe("group write policy", () => {
  test("small groups are written and synced on the event loop while the disk is fast", () => {
    const p = new GroupWritePolicy(256 * 1024, 1);
    expect(run(p, 10, () => 0.2).onLoop).toBe(10);
    expect(p.writeOnLoop(4096)).toBe(true);
    expect(p.syncOnLoop(4096)).toBe(true);
  });

  test("large groups go to the thread pool", () => {
    const p = new GroupWritePolicy(256 * 1024, 1);
    expect(p.writeOnLoop(8 * 1024 * 1024)).toBe(false);
    expect(p.syncOnLoop(8 * 1024 * 1024)).toBe(false);
  });

  test("a slow disk moves the sync off the loop at once, and it comes back once syncs are fast again", () => {
    const p = new GroupWritePolicy(256 * 1024, 1);
    p.synced(40, true); // one 40 ms fdatasync on the loop
    expect(p.syncOnLoop(4096)).toBe(false);
    expect(p.writeOnLoop(4096)).toBe(true); // the page-cache copy stays cheap
    // Fast again: the probes (one group in eight) find it so and bring the syncs back.
    let groups = 0;
    let inARow = 0;
    while (inARow < 10 && groups < 1000) {
      const here = p.syncOnLoop(4096);
      inARow = here ? inARow + 1 : 0;
      p.synced(0.3, here);
      groups++;
    }
    expect(groups).toBeGreaterThan(8 + 10);
    expect(groups).toBeLessThan(200);
  });

  test("a sync timed in the thread pool does not keep the syncs off the loop: that time holds the busy loop's delay", () => {
    const p = new GroupWritePolicy(256 * 1024, 1);
    p.synced(5, true); // one slow moment of the disk
    // In the pool every sync reads 5 ms (its queue and the loop's turn), on the loop 0.4 ms.
    const { onLoop } = run(p, 400, (here) => (here ? 0.4 : 5));
    expect(onLoop).toBeGreaterThan(350);
  });

  test("on a disk that stays slow the probes get rarer: the loop stalls ever more seldom", () => {
    const p = new GroupWritePolicy(256 * 1024, 1);
    p.synced(20, true);
    const first = run(p, 100, () => 20).onLoop;
    run(p, 2000, () => 20); // the spacing has doubled up to its most by now
    const later = run(p, 3 * 1024, () => 20).onLoop;
    expect(first).toBe(3); // after 8 groups, then 16, then 32
    expect(later).toBe(3); // one in 1,024: never none, the disk may get fast again
  });

  test("a policy with no loop budget never syncs on the loop, not even to probe", () => {
    const p = new GroupWritePolicy(256 * 1024, 0);
    expect(run(p, 100, () => 0.1).onLoop).toBe(0);
  });
});
