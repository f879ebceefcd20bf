import { open, readdir, stat, truncate, appendFile } from "node:fs/promises";
import { join } from "node:path";
import { IntegrityError } from "../common/errors";
import { blobOf, silentLog, tempDir } from "../rpc/testing/test-helpers";
import { SegmentStore } from "./segment-store";

describe("SegmentStore", () => {
  let dir: { path: string; remove(): Promise<void> };
  const stores: SegmentStore[] = [];
  const openStore = async (maxSegmentBytes?: number) => {
    const s = new SegmentStore({ dir: dir.path, log: silentLog, maxSegmentBytes });
    await s.open();
    stores.push(s);
    return s;
  };
  const read = (s: SegmentStore, id: string) => {
    const e = s.get(id);
    if (!e) return undefined;
    return s.readData(id, e, 0, e.size);
  };

  beforeEach(async () => {
    dir = await tempDir("seg");
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await dir.remove();
  });

  it("groups concurrent puts into few fdatasyncs and resolves each after its sync", async () => {
    const s = await openStore();
    const probe = await open(join(dir.path, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const spy = jest.spyOn(proto, "datasync");
    try {
      const blobs = Array.from({ length: 300 }, (_, i) => ({ id: `b${i}`, ...blobOf(4096) }));
      const metas = await Promise.all(blobs.map((b) => s.put(b.id, { n: b.id }, b.data, b.sha256)));
      expect(metas.map((m) => m.size)).toEqual(blobs.map(() => 4096));
      // One sync per group, not per put.
      expect(spy.mock.calls.length).toBeGreaterThan(0);
      expect(spy.mock.calls.length).toBeLessThan(30);
      for (const b of blobs) expect((await read(s, b.id))!.equals(b.data)).toBe(true);
      expect(s.get("b7")!.attributes).toEqual({ n: "b7" });
    } finally {
      spy.mockRestore();
    }
  });

  it("refuses data that does not hash to the given sha256", async () => {
    const s = await openStore();
    const b = blobOf(100);
    await expect(s.put("x", {}, b.data, blobOf(1).sha256)).rejects.toBeInstanceOf(IntegrityError);
    expect(s.get("x")).toBeUndefined();
  });

  it("rebuilds the index on reopen, with deletes and overwrites applied", async () => {
    const s = await openStore();
    const a = blobOf(1000),
      b = blobOf(2000),
      c = blobOf(3000),
      a2 = blobOf(50);
    await Promise.all([s.put("a", { v: "1" }, a.data, a.sha256), s.put("b", {}, b.data, b.sha256), s.put("c", {}, c.data, c.sha256)]);
    expect(await s.delete("b")).toBe(true);
    expect(await s.delete("b")).toBe(false);
    await s.put("a", { v: "2" }, a2.data, a2.sha256);
    await s.close();
    stores.pop();

    const r = await openStore();
    expect(r.stats().blobCount).toBe(2);
    expect((await read(r, "a"))!.equals(a2.data)).toBe(true);
    expect(r.get("a")!.attributes).toEqual({ v: "2" });
    expect(r.get("b")).toBeUndefined();
    expect((await read(r, "c"))!.equals(c.data)).toBe(true);
    // New puts after a reopen get higher sequence numbers than the replayed ones.
    const d = blobOf(10);
    await r.put("d", {}, d.data, d.sha256);
    expect(r.get("d")!.seq).toBeGreaterThan(r.get("a")!.seq);
  });

  it("cuts a torn tail at open and keeps every record before it", async () => {
    const s = await openStore();
    const blobs = [blobOf(500), blobOf(600), blobOf(700)];
    for (const [i, b] of blobs.entries()) await s.put(`t${i}`, {}, b.data, b.sha256);
    await s.close();
    stores.pop();
    const [segName] = await readdir(dir.path);
    const segPath = join(dir.path, segName);
    const full = (await stat(segPath)).size;
    // A crash mid-append: the last record is half written.
    await truncate(segPath, full - 300);

    const r = await openStore();
    expect(r.get("t0")).toBeDefined();
    expect(r.get("t1")).toBeDefined();
    expect(r.get("t2")).toBeUndefined();
    const cut = (await stat(segPath)).size;
    expect(cut).toBeLessThan(full - 300);
    // Appends continue cleanly after the cut, and survive another reopen.
    const n = blobOf(123);
    await r.put("after", {}, n.data, n.sha256);
    await r.close();
    stores.pop();
    const again = await openStore();
    expect((await read(again, "t1"))!.equals(blobs[1].data)).toBe(true);
    expect((await read(again, "after"))!.equals(n.data)).toBe(true);
  });

  it("treats garbage after the last record as a torn tail", async () => {
    const s = await openStore();
    const b = blobOf(100);
    await s.put("g", {}, b.data, b.sha256);
    await s.close();
    stores.pop();
    const [segName] = await readdir(dir.path);
    await appendFile(join(dir.path, segName), Buffer.from("this is not a record at all, just noise from a torn write"));
    const r = await openStore();
    expect((await read(r, "g"))!.equals(b.data)).toBe(true);
    expect(r.stats().blobCount).toBe(1);
  });

  it("detects a corrupted byte when the whole blob is read", async () => {
    const s = await openStore();
    const b = blobOf(4096);
    await s.put("c", {}, b.data, b.sha256);
    const e = s.get("c")!;
    const fd = await open(e.segment.path, "r+");
    await fd.write(Buffer.from([b.data[10] ^ 0xff]), 0, 1, e.dataStart + 10);
    await fd.close();
    await expect(read(s, "c")).rejects.toBeInstanceOf(IntegrityError);
    // A ranged read is served as is (only whole reads can be checked).
    expect((await s.readData("c", e, 100, 50)).equals(b.data.subarray(100, 150))).toBe(true);
  });

  it("compacts mostly-dead segments, keeping live blobs readable across a reopen", async () => {
    const s = await openStore(16 * 1024);
    const blobs = Array.from({ length: 40 }, (_, i) => ({ id: `k${i}`, ...blobOf(2000) }));
    for (const b of blobs) await s.put(b.id, {}, b.data, b.sha256);
    const before = s.stats();
    expect(before.segmentCount).toBeGreaterThan(3);
    // Delete 3 of every 4.
    for (const b of blobs) if (Number(b.id.slice(1)) % 4 !== 0) await s.delete(b.id);
    const compacted = await s.compact(0.5);
    expect(compacted).toBeGreaterThan(0);
    const after = s.stats();
    expect(after.usedBytes).toBeLessThan(before.usedBytes);
    const live = blobs.filter((b) => Number(b.id.slice(1)) % 4 === 0);
    for (const b of live) expect((await read(s, b.id))!.equals(b.data)).toBe(true);
    expect(after.blobCount).toBe(live.length);
    await s.close();
    stores.pop();

    const r = await openStore(16 * 1024);
    expect(r.stats().blobCount).toBe(live.length);
    for (const b of live) expect((await read(r, b.id))!.equals(b.data)).toBe(true);
    for (const b of blobs) if (!live.includes(b)) expect(r.get(b.id)).toBeUndefined();
  });
});
