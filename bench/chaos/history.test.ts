import { History } from "./history";

// The checker's rules on hand-made histories: what must pass, and each kind of violation.

const A = { sha256: "a".repeat(64), size: 10 };
const B = { sha256: "b".repeat(64), size: 20 };
const C = { sha256: "c".repeat(64), size: 30 };

function written(h: History, key: string, ...states: { sha256: string }[]) {
  for (const s of states) h.writing(key, s.sha256);
}

describe("chaos History", () => {
  it("accepts the last acknowledged write, and absence after an acknowledged delete", () => {
    const h = new History();
    written(h, "k", A, B);
    h.writeAcknowledged("k", A);
    expect(h.observe("k", A)).toBeUndefined();
    h.writeAcknowledged("k", B);
    expect(h.observe("k", B)).toBeUndefined();
    h.deleteAcknowledged("k");
    expect(h.observe("k", "absent")).toBeUndefined();
    expect(h.final("k", "absent")).toBeUndefined();
    expect(h.violations).toEqual([]);
  });

  it("an older version read after a newer one was acknowledged is stale; unknown bytes are wrong", () => {
    const h = new History();
    written(h, "k", A, B);
    h.writeAcknowledged("k", A);
    h.writeAcknowledged("k", B);
    expect(h.observe("k", A)).toBe("stale");
    expect(h.observe("k", "absent")).toBe("stale");
    expect(h.observe("k", C)).toBe("wrong");
    expect(h.observe("k", { sha256: B.sha256, size: 1 })).toBe("stale");
  });

  it("a write of unknown outcome may be the state from then on, even after a later acknowledged one", () => {
    const h = new History();
    written(h, "k", A, B, C);
    h.writeAcknowledged("k", A);
    h.maybe("k", B);
    expect(h.observe("k", A)).toBeUndefined();
    expect(h.observe("k", B)).toBeUndefined();
    h.writeAcknowledged("k", C);
    // B may have landed late (the server finishing after the client gave up), A may not.
    expect(h.final("k", B)).toBeUndefined();
    expect(h.final("k", A)).toBe("lost");
    expect(h.summary()).toMatchObject({ keys: 1, uncertainKeys: 1, acknowledgedWrites: 2, maybeWrites: 1 });
  });

  it("in the final check: gone or older is lost, back after a delete is resurrected", () => {
    const h = new History();
    written(h, "gone", A);
    h.writeAcknowledged("gone", A);
    expect(h.final("gone", "absent")).toBe("lost");
    written(h, "old", A, B);
    h.writeAcknowledged("old", A);
    h.writeAcknowledged("old", B);
    expect(h.final("old", A)).toBe("lost");
    written(h, "back", A);
    h.writeAcknowledged("back", A);
    h.deleteAcknowledged("back");
    expect(h.final("back", A)).toBe("resurrected");
    expect(h.final("back", C)).toBe("wrong");
    expect([h.count("lost"), h.count("resurrected"), h.count("wrong"), h.count("stale")]).toEqual([2, 1, 1, 0]);
  });

  it("says what a key must hold at the end", () => {
    const h = new History();
    h.writeAcknowledged("p", A);
    h.writeAcknowledged("e", A);
    h.maybe("e", "absent");
    h.maybe("a", "absent");
    expect([h.expectation("p"), h.expectation("e"), h.expectation("a")]).toEqual(["present", "either", "absent"]);
  });
});
