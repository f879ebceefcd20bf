import { copiesWanted, repairedReplicas, type CopyChecks } from "./repair-plan";

const checks = (c: Partial<CopyChecks>): CopyChecks => ({ good: [], bad: [], unreachable: [], lost: [], ...c });

describe("repair plan", () => {
  test("no copy answered and no target: the list stays as it was (it used to become empty)", () => {
    const c = checks({ lost: ["s1", "s2"] });
    expect(copiesWanted(c, 2)).toBe(2);
    expect(repairedReplicas(c, [], 2)).toEqual({ replicas: ["s1", "s2"], dropped: [] });
  });

  test("a lost copy is dropped only once a verified copy replaces it", () => {
    const c = checks({ good: ["s1"], lost: ["s2"] });
    expect(copiesWanted(c, 2)).toBe(1);
    expect(repairedReplicas(c, ["s3"], 2)).toEqual({ replicas: ["s1", "s3"], dropped: ["s2"] });
    expect(repairedReplicas(c, [], 2)).toEqual({ replicas: ["s1", "s2"], dropped: [] });
  });

  test("fewer targets than wanted: each new copy replaces one lost copy, the others stay listed", () => {
    const c = checks({ good: ["s1"], lost: ["s2", "s3"] });
    expect(copiesWanted(c, 3)).toBe(2);
    expect(repairedReplicas(c, ["s4"], 3)).toEqual({ replicas: ["s1", "s2", "s4"], dropped: ["s3"] });
  });

  test("an unreachable copy is waited for, not replaced, and never dropped", () => {
    const c = checks({ good: ["s1"], unreachable: ["s2"] });
    expect(copiesWanted(c, 2)).toBe(0);
    expect(repairedReplicas(c, [], 2)).toEqual({ replicas: ["s1", "s2"], dropped: [] });
  });

  test("a verified bad copy is dropped even with no replacement, so the version shows as short", () => {
    const c = checks({ good: ["s1"], bad: ["s2"] });
    expect(copiesWanted(c, 2)).toBe(1);
    expect(repairedReplicas(c, [], 2)).toEqual({ replicas: ["s1"], dropped: ["s2"] });
  });

  test("a bad copy's node chosen again as the target keeps its new copy", () => {
    const c = checks({ good: ["s1"], bad: ["s2"] });
    expect(repairedReplicas(c, ["s2"], 2)).toEqual({ replicas: ["s1", "s2"], dropped: [] });
  });

  test("a copy on a draining node does not count towards R, and leaves the list once replaced", () => {
    const c = checks({ good: ["s1"], leaving: ["s2"] });
    expect(copiesWanted(c, 2)).toBe(1);
    expect(repairedReplicas(c, ["s3"], 2)).toEqual({ replicas: ["s1", "s3"], dropped: ["s2"] });
    // No target yet: the draining copy stays listed (it is still one of the copies).
    expect(repairedReplicas(c, [], 2)).toEqual({ replicas: ["s1", "s2"], dropped: [] });
  });

  test("a version whose only good copies are draining keeps them until new ones exist", () => {
    const c = checks({ leaving: ["s1", "s2"] });
    expect(copiesWanted(c, 2)).toBe(2);
    expect(repairedReplicas(c, ["s3"], 2)).toEqual({ replicas: ["s1", "s3"], dropped: ["s2"] });
    expect(repairedReplicas(c, ["s3", "s4"], 2)).toEqual({ replicas: ["s3", "s4"], dropped: ["s1", "s2"] });
  });
});
