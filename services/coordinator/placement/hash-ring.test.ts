import { createHash } from "node:crypto";
import { HashRing, pointsFor } from "./hash-ring";

const keys = Array.from({ length: 20_000 }, (_, i) => `default/photos/${i}.jpg`);
const owners = (ring: HashRing) => keys.map((k) => ring.preferenceList(k)[0]);

describe("HashRing", () => {
  it("gives the same placement whatever order nodes are added in", () => {
    const a = new HashRing(["storage-1", "storage-2", "storage-3"]);
    const b = new HashRing(["storage-3", "storage-1", "storage-2"]);
    expect(keys.map((k) => b.preferenceList(k))).toEqual(keys.map((k) => a.preferenceList(k)));
  });

  it("derives points from the node id only", () => {
    expect(pointsFor("storage-1")).toEqual(pointsFor("storage-1"));
    expect(pointsFor("storage-1")).not.toEqual(pointsFor("storage-2"));
    expect(new Set(pointsFor("storage-1")).size).toBeGreaterThan(150);
  });

  it("lists every node once, in ring order", () => {
    const ring = new HashRing(["a", "b", "c", "d"]);
    for (const k of keys.slice(0, 200)) {
      const p = ring.preferenceList(k);
      expect(p).toHaveLength(4);
      expect(new Set(p).size).toBe(4);
    }
  });

  it("balances keys across nodes", () => {
    const counts = new Map<string, number>();
    for (const o of owners(new HashRing(["storage-1", "storage-2", "storage-3"]))) counts.set(o, (counts.get(o) ?? 0) + 1);
    for (const n of counts.values()) {
      expect(n / (keys.length / 3)).toBeGreaterThan(0.8);
      expect(n / (keys.length / 3)).toBeLessThan(1.2);
    }
  });

  it("moves only the new node's share when a node is added", () => {
    const before = owners(new HashRing(["storage-1", "storage-2", "storage-3"]));
    const after = owners(new HashRing(["storage-1", "storage-2", "storage-3", "storage-4"]));
    let moved = 0;
    before.forEach((o, i) => {
      if (o !== after[i]) {
        moved++;
        expect(after[i]).toBe("storage-4");
      }
    });
    expect(moved / keys.length).toBeGreaterThan(0.15);
    expect(moved / keys.length).toBeLessThan(0.35);
  });

  it("keeps the other replicas in order when a node leaves (writes go on to the next node)", () => {
    const full = new HashRing(["storage-1", "storage-2", "storage-3", "storage-4"]);
    const without = new HashRing(["storage-1", "storage-3", "storage-4"]);
    for (const k of keys.slice(0, 500)) {
      expect(without.preferenceList(k)).toEqual(full.preferenceList(k).filter((n) => n !== "storage-2"));
    }
  });

  // Every coordinator, of every release, must place a key where the others look for it: these are
  // the lists the ring gave before preferenceList hashed keys with crypto.hash (issue 16, coordhot).
  it("places keys where earlier releases did (non-ASCII keys hashed as UTF-8)", () => {
    const ring = new HashRing(["storage-1", "storage-2", "storage-3", "storage-4"]);
    expect(ring.preferenceList("default/a")).toEqual(["storage-2", "storage-4", "storage-3", "storage-1"]);
    expect(ring.preferenceList("photos/2026/12/03/ü.jpg")).toEqual(["storage-2", "storage-4", "storage-1", "storage-3"]);
    expect(ring.preferenceList("b/🙂")).toEqual(["storage-2", "storage-3", "storage-1", "storage-4"]);
    const many = Array.from({ length: 5000 }, (_, i) => `b${i % 7}/k/${i}${i % 3 ? "" : "/é東🙂"}`);
    const lists = JSON.stringify(many.map((k) => ring.preferenceList(k)));
    expect(createHash("sha256").update(lists).digest("hex")).toBe("1085cb36c49abe7d6a416b13d3fc3f462d833602f5b3d863e9e8ee2ff2200c6f");
  });
});
