import { runLifecycle } from "../../bench/lifecycle";

// The lifecycle bench's seeding is honest: a seeded object is stored as an upload stores it (row,
// home replicas, blobs), and every seeded object goes through demotion, the trash and its purge.

describe("bench lifecycle phase", () => {
  it("seeds objects as uploads make them and sees every one moved through each transition", async () => {
    const log: string[] = [];
    const r = await runLifecycle(
      { objects: 300, objectBytes: 4096, windowMs: 2000, hotTtlMs: 2000, storageNodes: 3, clusterEnv: {} },
      (m) => log.push(m),
    );
    expect(r.seededVsUpload).toEqual([]);
    for (const kind of [r.demote, r.trash, r.purge]) {
      expect(kind.due).toBe(301); // the seeded objects and the reference upload
      expect(kind.moved).toBe(301);
      expect(kind.latenessMs.p99).not.toBeNull();
    }
    expect(r.left).toEqual({ hot: 0, cold: 0, trash: 0 });
  }, 240_000);
});
