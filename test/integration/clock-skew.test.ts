import { randomBytes } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { rememberClockOffset } from "../../deploy/launcher/client-credentials";
import { trashOf } from "../support/api";
import { sha256 } from "../support/bodies";
import { ClusterInspector } from "../support/cluster-inspector";
import { stopAndReport, withCoordinatorLogs } from "../support/crash-report";
import { postJson, remove, retrieve, upload } from "../support/http";
import { sleep, waitFor } from "../support/wait";

// Purges are decided on the catalogue's clock (MariaDB NOW()), never a process's wall clock (review
// 2026-11-30, finding 5). A delete node whose clock runs two days ahead, and a coordinator restarted
// with its clock two days ahead (a forward jump), must purge nothing of a trash whose TTL is minutes:
// every deleted object can still be undeleted, byte for byte. The clocks are faked with libfaketime
// (Debian's `faketime`, installed by .ci/run), preloaded into that one process.

const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const TWO_DAYS_AHEAD = { LD_PRELOAD: LIBFAKETIME, FAKETIME: "+2d" };
/** Longer than the delete node's old sweep interval (5 s) and several reconciler passes (500 ms). */
const SETTLE_MS = 7000;

jest.setTimeout(120_000);

describe("clocks that run ahead purge nothing early (real cluster, faketime)", () => {
  let cluster: TestCluster;
  let nodes: ClusterInspector;
  const bodies = new Map<string, Buffer>();

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 2,
      env: { MINIS3_TRASH_TTL: "10m", MINIS3_RECONCILE_INTERVAL: "500ms", MINIS3_REPLICAS: "2" },
      processEnv: { "delete-1": TWO_DAYS_AHEAD },
    });
    nodes = new ClusterInspector(cluster);
  }, 90_000);

  afterAll(async () => {
    await stopAndReport(cluster, nodes);
  });

  it("a delete node two days ahead, then a coordinator jumping two days ahead: every deleted object undeletes", async () => {
    const base = cluster.httpUrl;
    // small (one segment record) and large (a file of its own) bodies
    for (const [i, size] of [1000, 20_000, 3 * 1024 * 1024].entries()) bodies.set(`skew/${i}`, randomBytes(size));
    const versions = new Map<string, string>();
    for (const [key, body] of bodies) {
      const up = await upload(base, key, body);
      expect(up.status).toBe(201);
      versions.set(key, JSON.parse(up.body.toString()).versionId as string);
      expect((await remove(base, key)).status).toBe(200);
    }
    // the trash job moves the bytes to the delete node (whose clock says the purge time passed long ago)
    for (const [key, v] of versions) {
      await withCoordinatorLogs(
        cluster,
        waitFor(`${key} on delete-1 only`, async () => JSON.stringify(await nodes.holders(v)) === '["delete-1"]', 20_000),
      );
    }
    await sleep(SETTLE_MS);
    for (const v of versions.values()) expect(await nodes.holders(v)).toEqual(["delete-1"]);

    // the coordinator's clock jumps two days ahead: a restart with the faked clock
    const coordinator = cluster.specs.find((s) => s.kind === "coordinator")!;
    Object.assign(coordinator.env, TWO_DAYS_AHEAD);
    await cluster.restart(coordinator.name);
    // Its clients sign on its time, as SDKs do once told (a token 2 days off is refused, 401).
    rememberClockOffset([base], 2 * 24 * 3600_000);
    await cluster.waitHealthy();
    await sleep(SETTLE_MS);

    expect((await trashOf(base, "skew/")).map((e) => e.key).sort()).toEqual([...bodies.keys()].sort());
    for (const [key, body] of bodies) {
      const undo = await postJson(`${base}/undelete?key=${encodeURIComponent(key)}`);
      expect({ key, status: undo.status }).toEqual({ key, status: 200 });
      const got = await retrieve(base, key);
      expect(got.status).toBe(200);
      expect(sha256(got.body)).toBe(sha256(body));
    }
  });
});
