import { DiskBackend } from "../../blobstore/disk-backend";
import type { BlobBackend } from "../blob-backend";
import { blobOf, silentLog, tempDir } from "../testing/test-helpers";
import { FencedBackend, GENERATION_PUTS } from "./put-fence";

describe("FencedBackend", () => {
  let dir: { path: string; remove(): Promise<void> };
  let disk: DiskBackend;

  beforeAll(async () => {
    dir = await tempDir("put-fence");
    disk = new DiskBackend({ dataDir: dir.path, chunkSize: 64 * 1024, log: silentLog, compactIntervalMs: 0 });
    await disk.open();
  });
  afterAll(async () => {
    await disk.close();
    await dir.remove();
  });

  const put = (b: BlobBackend, id: string) => {
    const blob = blobOf(1024);
    return b.putSmall(id, {}, blob.data, blob.sha256);
  };

  it("deletes a copy put at or before the position named, keeps one put after", async () => {
    const f = new FencedBackend(disk);
    await put(f, "a");
    const seen = f.position;
    expect(seen.seq).toBe(1);
    await put(f, "b");
    expect(await f.deleteFenced("b", seen)).toBe("fenced");
    expect(await f.stat("b")).not.toBeNull();
    expect(await f.deleteFenced("a", seen)).toBe("deleted");
    expect(await f.deleteFenced("a", seen)).toBe("absent");
    // put again after the position: kept; at a later position: gone
    await put(f, "a");
    expect(await f.deleteFenced("a", seen)).toBe("fenced");
    expect(await f.deleteFenced("a", f.position)).toBe("deleted");
    expect(await f.deleteFenced("b", f.position)).toBe("deleted");
  });

  it("a copy from before the process started is deleted at any of its positions; another process's position fences", async () => {
    await put(disk, "old");
    const before = new FencedBackend(disk);
    const f = new FencedBackend(disk); // the node restarted
    expect(await f.deleteFenced("old", before.position)).toBe("fenced");
    expect(await f.deleteFenced("old", { boot: f.boot, seq: 0 })).toBe("deleted");
  });

  it("an unfenced delete (an older coordinator's) deletes whatever the copy's age", async () => {
    const f = new FencedBackend(disk);
    await put(f, "u");
    expect(await f.deleteFenced("u", undefined)).toBe("deleted");
    await put(f, "u");
    expect(await f.delete("u")).toBe(true);
  });

  it("remembers two generations of puts: a position older than what it forgot fences a blob it cannot place", async () => {
    const f = new FencedBackend(disk);
    const at0 = f.position;
    await put(f, "g");
    // two generations of puts of other ids, numbered without writing them (the maps are the fence's only memory)
    const begin = (f as unknown as { begin(id: string): unknown }).begin.bind(f);
    for (let i = 0; i < 2 * GENERATION_PUTS; i++) begin(`x${i}`);
    expect(await f.deleteFenced("g", at0)).toBe("fenced"); // put after at0, and forgotten: cannot tell
    expect(await f.deleteFenced("g", f.position)).toBe("deleted");
  });

  it("a put that begins while a delete of the same blob runs waits for it: the new copy stays", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // A backend whose delete stalls between its decision and its removal (a file's stat, then unlink).
    const slow: BlobBackend = Object.assign(Object.create(disk) as DiskBackend, {
      delete: async (id: string) => {
        await gate;
        return disk.delete(id);
      },
    });
    const f = new FencedBackend(slow);
    await put(f, "r");
    const deleting = f.deleteFenced("r", f.position);
    const putting = put(f, "r");
    release();
    expect(await deleting).toBe("deleted");
    await putting;
    expect(await f.stat("r")).not.toBeNull();
  });
});
