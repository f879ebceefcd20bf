import { needsTarget, parseBenchArgs } from "./args";

// Own-cluster phases alone start no target cluster: an idle one shared the cores with the measured.

describe("needsTarget", () => {
  const phases = (list: string) => {
    const a = parseBenchArgs(["--phases", list], {});
    if (a === "help") throw new Error("help");
    return a.phases;
  };

  it("is false when every phase starts its own cluster", () => {
    expect(needsTarget(phases("lifecycle"))).toBe(false);
    expect(needsTarget(phases("tiers,transitions,lifecycle"))).toBe(false);
  });

  it("is true when any phase loads the target", () => {
    expect(needsTarget(phases("lifecycle,mixed"))).toBe(true);
    expect(needsTarget(phases("large-s3"))).toBe(true);
    expect(needsTarget(phases("large-s3-multipart"))).toBe(true);
    expect(needsTarget(phases("huge"))).toBe(true);
  });
});

describe("the large rows' warm-ups", () => {
  const parsed = (argv: string[]) => {
    const a = parseBenchArgs(argv, {});
    if (a === "help") throw new Error("help");
    return a;
  };

  it("gives a system's first large row 8 unmeasured passes and every later one 2 by default", () => {
    expect(parsed([])).toMatchObject({ largeFirstWarmup: 8, largeWarmup: 2 });
  });

  it("takes --large-first-warmup from 0 to 20 and refuses more", () => {
    expect(parsed(["--large-first-warmup", "0"]).largeFirstWarmup).toBe(0);
    expect(() => parsed(["--large-first-warmup", "21"])).toThrow(/large-first-warmup/);
  });

  it("runs the large-burst row by default, 16 objects at once, and takes --large-burst from 2 to 64", () => {
    expect(parsed([])).toMatchObject({ largeBurst: 16 });
    expect(parsed([]).phases).toContain("large-burst");
    expect(parsed(["--large-burst", "2"]).largeBurst).toBe(2);
    expect(() => parsed(["--large-burst", "1"])).toThrow(/large-burst/);
    expect(() => parsed(["--large-burst", "65"])).toThrow(/large-burst/);
  });
});
