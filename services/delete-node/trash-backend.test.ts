import { blobOf, collect, silentLog, tempDir } from "../rpc/testing/test-helpers";
import { trashBackend } from "./trash-backend";

describe("the trash backend", () => {
  let dir: { path: string; remove(): Promise<void> };
  const trashAttrs = (purgeAtMs: number) => ({
    bucket: "b",
    key: "k",
    versionId: "v",
    size: "3",
    reason: "delete",
    deletedAtMs: String(purgeAtMs - 60_000),
    purgeAtMs: String(purgeAtMs),
  });
  const openTrash = async () => {
    const t = trashBackend({ dataDir: dir.path, chunkSize: 64 * 1024, log: silentLog });
    await t.open();
    return t;
  };

  beforeEach(async () => {
    dir = await tempDir("trash");
  });
  afterEach(() => dir.remove());

  it("keeps blobs with their attributes, small and large, across a restart, whatever their purgeAtMs says", async () => {
    const trash = await openTrash();
    const past = blobOf(100),
      bigPast = blobOf(2 * 1024 * 1024),
      plain = blobOf(5);
    // purge times long gone by this process's clock: only the coordinator's purge job may remove them
    await trash.putSmall("past", trashAttrs(Date.now() - 86_400_000), past.data, past.sha256);
    await trash.putSmall("plain", {}, plain.data, plain.sha256);
    const w = await trash.beginWrite("bigpast", trashAttrs(1));
    await w.write(bigPast.data);
    await w.commit(bigPast.data.length, bigPast.sha256);

    const listed = new Map<string, Record<string, string>>();
    for await (const m of trash.list()) listed.set(m.blobId, m.attributes);
    expect([...listed.keys()].sort()).toEqual(["bigpast", "past", "plain"]);
    expect(listed.get("bigpast")).toMatchObject({ bucket: "b", key: "k", reason: "delete", purgeAtMs: "1" });
    await trash.close();

    const again = await openTrash();
    expect((await collect((await again.read("past", 0, undefined)).chunks)).equals(past.data)).toBe(true);
    expect((await collect((await again.read("bigpast", 0, undefined)).chunks)).equals(bigPast.data)).toBe(true);
    expect(await again.delete("past")).toBe(true);
    expect(await again.stat("past")).toBeNull();
    expect((await again.stats()).blobCount).toBe(2);
    expect(again.kind).toBe("delete");
    await again.close();
  });
});
