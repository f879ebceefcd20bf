import { GroupCommit } from "./group-commit";

const tick = () => new Promise((r) => setTimeout(r, 5));

test("items submitted together, or while a batch is stored, go together in order, up to maxBatch", async () => {
  const batches: number[][] = [];
  const g = new GroupCommit<number, string>(
    async (items) => {
      batches.push(items);
      await tick();
      return items.map((i) => `ok ${i}`);
    },
    { maxBatch: 4 },
  );
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => g.submit(i)));
  expect(results).toEqual(Array.from({ length: 10 }, (_, i) => `ok ${i}`));
  expect(batches).toEqual([
    [0, 1, 2, 3],
    [4, 5, 6, 7],
    [8, 9],
  ]);
  // A lone item goes at once; those arriving while it is stored form the next batch.
  batches.length = 0;
  const first = g.submit(10);
  await Promise.resolve();
  await Promise.resolve();
  const rest = [g.submit(11), g.submit(12)];
  await Promise.all([first, ...rest]);
  expect(batches).toEqual([[10], [11, 12]]);
  await g.idle();
});

test("fits() keeps apart items that may not share a batch; a failed batch rejects only its items", async () => {
  const batches: string[][] = [];
  const g = new GroupCommit<string, string>(
    async (items) => {
      batches.push(items);
      await tick();
      if (items.includes("boom")) throw new Error("batch failed");
      return items;
    },
    { fits: (batch, next) => !batch.includes(next) },
  );
  const p = ["x", "a", "b", "a", "boom", "c"].map((s) =>
    g.submit(s).then(
      (v) => `ok ${v}`,
      (e: Error) => e.message,
    ),
  );
  expect(await Promise.all(p)).toEqual(["ok x", "ok a", "ok b", "batch failed", "batch failed", "batch failed"]);
  expect(batches).toEqual([
    ["x", "a", "b"],
    ["a", "boom", "c"],
  ]);
  // Still usable after a failure, and a lone item goes at once.
  expect(await g.submit("later")).toBe("later");
});

test("with splitOnFailure, a failed batch is retried item by item, in order, so only the bad item fails", async () => {
  const batches: string[][] = [];
  const g = new GroupCommit<string, string>(
    async (items) => {
      batches.push(items);
      await tick();
      if (items.includes("boom")) throw new Error(items.length > 1 ? "refused" : "down");
      return items;
    },
    { splitOnFailure: (e) => (e as Error).message === "refused" },
  );
  const settle = (s: string) =>
    g.submit(s).then(
      (v) => `ok ${v}`,
      (e: Error) => e.message,
    );
  const p = ["x", "a", "boom", "b"].map(settle);
  expect(await Promise.all(p)).toEqual(["ok x", "ok a", "down", "ok b"]);
  expect(batches).toEqual([["x", "a", "boom", "b"], ["x"], ["a"], ["boom"], ["b"]]);
  // An error it does not accept still fails the whole batch at once.
  batches.length = 0;
  const g2 = new GroupCommit<string, string>(
    async (items) => {
      batches.push(items);
      await tick();
      throw new Error("down");
    },
    { splitOnFailure: (e) => (e as Error).message === "refused" },
  );
  const q = ["y", "z", "w"].map((s) => g2.submit(s).catch((e: Error) => e.message));
  expect(await Promise.all(q)).toEqual(["down", "down", "down"]);
  expect(batches.length).toBeLessThanOrEqual(2);
});

test("with parallel 2, a second batch starts while the first is in flight", async () => {
  let inFlight = 0;
  let most = 0;
  const g = new GroupCommit<number, number>(
    async (items) => {
      most = Math.max(most, ++inFlight);
      await tick();
      inFlight--;
      return items;
    },
    { parallel: 2, maxBatch: 2 },
  );
  await Promise.all(Array.from({ length: 6 }, (_, i) => g.submit(i)));
  expect(most).toBe(2);
});
