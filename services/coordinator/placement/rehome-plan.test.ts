import { awayFromHome, droppable, rehomePlan } from "./rehome-plan";

const live =
  (...down: string[]) =>
  (id: string) =>
    !down.includes(id);

describe("rehome plan", () => {
  test("at home: nothing to do", () => {
    expect(rehomePlan(["s1", "s2"], ["s1", "s2"], 2, live())).toBeNull();
    expect(rehomePlan(["s2", "s1"], ["s1", "s2"], 2, live())).toBeNull();
  });

  test("a hint comes home: copy to the home node, then the stray goes", () => {
    expect(rehomePlan(["s1", "s3"], ["s1", "s2"], 2, live())).toEqual({ add: ["s2"], drop: ["s3"] });
  });

  test("a copy on a node that is down is waited for, not moved (that is repair's, once lost)", () => {
    expect(rehomePlan(["s1", "s2"], ["s1", "s3"], 2, live("s2"))).toBeNull();
  });

  test("a short version is repair's", () => {
    expect(rehomePlan(["s1"], ["s1", "s2"], 2, live())).toBeNull();
  });

  test("too few live home nodes: nothing moves", () => {
    expect(rehomePlan(["s1", "s3"], ["s1"], 2, live())).toBeNull();
  });

  test("a surplus copy goes without a replacement, never below R", () => {
    expect(rehomePlan(["s1", "s2", "s3"], ["s1", "s2"], 2, live())).toEqual({ add: [], drop: ["s3"] });
    const plan = rehomePlan(["s3", "s4"], ["s1", "s2"], 2, live())!;
    expect(plan).toEqual({ add: ["s1", "s2"], drop: ["s3", "s4"] });
    // only one of the two new copies verified: one stray goes, two copies stay listed... plus the new one
    expect(droppable(plan, 2, 1, 2)).toEqual(["s3"]);
    expect(droppable(plan, 2, 0, 2)).toEqual([]);
  });

  test("away from home: any copy off the first R of the preference list", () => {
    expect(awayFromHome(["s1", "s3"], ["s1", "s2"])).toBe(true);
    expect(awayFromHome(["s2", "s1"], ["s1", "s2"])).toBe(false);
  });
});
