import { blobOf, collect, silentLog, tempDir } from "../rpc/testing/test-helpers";
import { TrashBackend } from "./trash-backend";

describe("TrashBackend", () => {
  let dir: { path: string; remove(): Promise<void> };
  let now = 1_000_000;
  const trashAttrs = (purgeAtMs: number) => ({
    bucket: "b",
    key: "k",
    versionId: "v",
    size: "3",
    reason: "delete",
    deletedAtMs: String(now),
    purgeAtMs: String(purgeAtMs),
  });
  const openTrash = async () => {
    const t = new TrashBackend({ dataDir: dir.path, chunkSize: 64 * 1024, log: silentLog, sweepIntervalMs: 0, now: () => now });
    await t.open();
    return t;
  };

  beforeEach(async () => {
    dir = await tempDir("trash");
  });
  afterEach(() => dir.remove());

  it("keeps blobs with their attributes and purges the expired ones, small and large, across a restart", async () => {
    const trash = await openTrash();
    const soon = blobOf(100),
      later = blobOf(100),
      bigSoon = blobOf(2 * 1024 * 1024),
      plain = blobOf(5);
    await trash.putSmall("soon", trashAttrs(now + 1000), soon.data, soon.sha256);
    await trash.putSmall("later", trashAttrs(now + 60_000), later.data, later.sha256);
    await trash.putSmall("plain", {}, plain.data, plain.sha256); // no purgeAtMs: only the coordinator removes it
    const w = await trash.beginWrite("bigsoon", trashAttrs(now + 2000));
    await w.write(bigSoon.data);
    await w.commit(bigSoon.data.length, bigSoon.sha256);

    const listed = new Map<string, Record<string, string>>();
    for await (const m of trash.list()) listed.set(m.blobId, m.attributes);
    expect([...listed.keys()].sort()).toEqual(["bigsoon", "later", "plain", "soon"]);
    expect(listed.get("soon")).toMatchObject({ bucket: "b", key: "k", reason: "delete", purgeAtMs: String(now + 1000) });

    expect(await trash.sweep()).toBe(0);
    now += 1500;
    expect(await trash.sweep()).toBe(1);
    expect(await trash.stat("soon")).toBeNull();
    expect(await trash.stat("bigsoon")).not.toBeNull();
    await trash.close();

    // The purge times are rebuilt from what is on disk.
    now += 1000;
    const again = await openTrash();
    expect(await again.sweep()).toBe(1);
    expect(await again.stat("bigsoon")).toBeNull();
    expect((await collect((await again.read("later", 0, undefined)).chunks)).equals(later.data)).toBe(true);
    expect(await again.stat("plain")).not.toBeNull();
    expect((await again.stats()).blobCount).toBe(2);
    expect(again.kind).toBe("delete");
    await again.close();
  });
});
