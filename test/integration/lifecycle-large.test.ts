import { statOf } from "../support/api";
import { postJson, remove, retrieveHashed, uploadSeeded } from "../support/http";
import { withLifecycleCluster } from "../support/lifecycle-cluster";
import { waitFor } from "../support/wait";

// One large object through every tier: hot → cold → hot → trash → undelete. The body is generated
// and hashed as it streams up and hashed again as it streams down: the test never holds it in memory.

// About 2 GiB crosses the processes in all (upload at RF 2, demote, cold read + promote, read, trash
// move, undelete, read): a minute or two on 2 cores. MINIS3_TEST_LARGE=0 skips it for a quick run;
// MINIS3_TEST_LARGE_MIB sets the size (default 256).
const RUN = process.env.MINIS3_TEST_LARGE !== "0";
const SIZE = Number(process.env.MINIS3_TEST_LARGE_MIB ?? 256) * 1024 * 1024;
const STEP_TIMEOUT_MS = 240_000;

jest.setTimeout(20 * 60_000);

(RUN ? describe : describe.skip)(`a ${SIZE >> 20} MiB object through every tier (real cluster)`, () => {
  const lc = withLifecycleCluster({ hot: "4s", trash: "10m" });
  const timings: string[] = [];

  afterAll(() => {
    if (timings.length) process.stdout.write(`${SIZE >> 20} MiB lifecycle timings: ${timings.join("; ")}\n`);
  });

  const timed = async <T>(label: string, step: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await step();
    } catch (e) {
      throw new Error(`${label}: ${(e as Error).message}\ncoordinator log:\n${lc.cluster.logs("coordinator", 30).join("\n")}`);
    } finally {
      timings.push(`${label} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  };

  const waitHolders = (versionId: string, expected: string[]) => lc.waitHolders(versionId, expected, STEP_TIMEOUT_MS, 250);

  it("keeps its bytes intact from upload to cold, back to hot, into the trash and back", async () => {
    const key = "large/object.bin";
    const up = await timed("upload", () => uploadSeeded(lc.base, key, SIZE));
    expect(up.status).toBe(201);
    expect(up.sent.size).toBe(SIZE);
    expect(up.json.sha256).toBe(up.sent.sha256);
    const v = up.json.versionId as string;
    const want = { status: 200, size: SIZE, sha256: up.sent.sha256 };

    // hot → cold (no reads until it is cold)
    const cold = await timed("demote (incl. 4 s idle)", () =>
      waitFor(
        "cold",
        async () => {
          const s = await statOf(lc.base, key);
          return s?.tier === "cold" ? s : undefined;
        },
        STEP_TIMEOUT_MS,
        250,
      ),
    );
    expect(cold.replicas).toEqual(["backup-1"]);
    await timed("old hot copies removed", () => waitHolders(v, ["backup-1"]));
    expect(await lc.nodes.backupCopies(v)).toEqual({ copies: 1, chunkBytes: SIZE });

    // cold read, then the promotion back to hot
    expect(await timed("cold read", () => retrieveHashed(lc.base, key))).toMatchObject({ ...want, tier: "cold" });
    const hot = await timed("promote", () =>
      waitFor(
        "hot",
        async () => {
          const s = await statOf(lc.base, key);
          return s?.tier === "hot" && s.replicas.length === 2 ? s : undefined;
        },
        STEP_TIMEOUT_MS,
        250,
      ),
    );
    await timed("backup copy removed", () => waitHolders(v, hot.replicas));
    expect(await timed("hot read", () => retrieveHashed(lc.base, key))).toMatchObject({ ...want, tier: "hot" });

    // delete → trash
    expect((await remove(lc.base, key)).status).toBe(200);
    expect((await retrieveHashed(lc.base, key)).status).toBe(404);
    await timed("trash move", () => waitHolders(v, ["delete-1"]));
    expect(await lc.nodes.version(v)).toMatchObject({ state: "trash", tier: "trash", replicas: ["delete-1"] });

    // undelete → hot again
    const undo = await timed("undelete", () => postJson(`${lc.base}/undelete?key=${encodeURIComponent(key)}`));
    expect(undo.status).toBe(200);
    expect(undo.json).toMatchObject({ versionId: v, tier: "hot", size: SIZE });
    const restored = (await statOf(lc.base, key))!;
    await timed("trash copy removed", () => waitHolders(v, restored.replicas));
    expect(await timed("read after undelete", () => retrieveHashed(lc.base, key))).toMatchObject({ ...want, tier: "hot" });
  });
});
