import { GroupCommitter } from "./group-commit";

const tick = () => new Promise((r) => setTimeout(r, 5));

test("items submitted while a batch is stored go together in the next batch, in order", async () => {
  const batches: number[][] = [];
  const g = new GroupCommitter<number, string>(async (items) => {
    batches.push(items);
    await tick();
    return items.map((i) => `ok ${i}`);
  }, (batch) => batch.length < 4);
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => g.submit(i)));
  expect(results).toEqual(Array.from({ length: 10 }, (_, i) => `ok ${i}`));
  // The first item goes alone at once; the rest wait and are grouped up to 4.
  expect(batches).toEqual([[0], [1, 2, 3, 4], [5, 6, 7, 8], [9]]);
  await g.idle();
});

test("fits() keeps apart items that may not share a batch; a failed batch rejects only its items", async () => {
  const batches: string[][] = [];
  const g = new GroupCommitter<string, string>(async (items) => {
    batches.push(items);
    await tick();
    if (items.includes("boom")) throw new Error("batch failed");
    return items;
  }, (batch, next) => !batch.includes(next));
  const p = ["x", "a", "b", "a", "boom", "c"].map((s) => g.submit(s).then((v) => `ok ${v}`, (e: Error) => e.message));
  expect(await Promise.all(p)).toEqual(["ok x", "ok a", "ok b", "batch failed", "batch failed", "batch failed"]);
  expect(batches).toEqual([["x"], ["a", "b"], ["a", "boom", "c"]]);
  // Still usable after a failure, and a lone item goes at once.
  expect(await g.submit("later")).toBe("later");
});
