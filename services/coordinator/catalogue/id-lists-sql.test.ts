import { listedIds, splitIds } from "./id-lists-sql";

// A list column's ids, each once: short lists are checked id by id, longer ones through a Set; both
// answer the same.

test("a list column's ids come back each once, in their first order, and a repeat is told", () => {
  expect(listedIds("")).toEqual({ ids: [], repeated: false });
  expect(listedIds("storage-1")).toEqual({ ids: ["storage-1"], repeated: false });
  expect(listedIds("storage-1,storage-2")).toEqual({ ids: ["storage-1", "storage-2"], repeated: false });
  expect(listedIds("storage-2,storage-1,storage-2")).toEqual({ ids: ["storage-2", "storage-1"], repeated: true });
  expect(listedIds("a,b,c,a")).toEqual({ ids: ["a", "b", "c"], repeated: true });
  expect(listedIds("a,a")).toEqual({ ids: ["a"], repeated: true });
  const long = Array.from({ length: 20 }, (_, i) => `n${i}`);
  expect(listedIds(long.join(","))).toEqual({ ids: long, repeated: false });
  expect(listedIds([...long, "n3"].join(","))).toEqual({ ids: long, repeated: true });
  expect(splitIds("x,y,x")).toEqual(["x", "y"]);
});
