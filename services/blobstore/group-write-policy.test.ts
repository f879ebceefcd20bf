import { GroupWritePolicy } from "./group-write-policy";

describe("group write policy", () => {
  test("small groups are written and synced on the event loop while the disk is fast", () => {
    const p = new GroupWritePolicy(256 * 1024, 1);
    for (let i = 0; i < 10; i++) p.synced(0.2);
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
    p.synced(40); // one 40 ms fdatasync
    expect(p.syncOnLoop(4096)).toBe(false);
    expect(p.writeOnLoop(4096)).toBe(true); // the page-cache copy stays cheap
    let rounds = 0;
    while (!p.syncOnLoop(4096) && rounds < 100) {
      p.synced(0.3);
      rounds++;
    }
    expect(rounds).toBeGreaterThan(5);
    expect(p.syncOnLoop(4096)).toBe(true);
  });
});
