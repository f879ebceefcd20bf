import { randomBytes } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { statOf, statusOf, tierOf, waitNodeDown } from "../support/api";
import { getJson, remove, upload } from "../support/http";
import { sleep, waitFor } from "../support/wait";

// A storage node dead for good and never retired (review finding 10). The versions that had a copy
// on it cannot finish their cleanup or their purge while it is away. Both are retried with a
// backoff that grows to a bound: a cleanup job 6 times 0.5-8 s apart (BullMQ), then once every 10
// reconcile intervals; a purge 1 s after its first failure, doubling to a minute (the due-row
// poller). They used to go round every 5 s forever, a new job each time. Once the node is back,
// everything finishes.

const RECONCILE_INTERVAL_MS = 2000;
/** The window counted: from when every first round of retries is over, for this long. */
const WINDOW_FROM_MS = 25_000;
const WINDOW_MS = 30_000;
/** Attempts one version may make in the window: one every 5 s would be WINDOW_MS / 5000 (6). */
const MOST_ATTEMPTS = 3;

describe("a storage node dead for good and not retired", () => {
  let cluster: TestCluster;
  /** Each failed cleanup attempt the coordinator logged: when, and the version. */
  const cleanupFailures: { at: number; versionId: string }[] = [];

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      env: { MINIS3_TRASH_TTL: "3s", MINIS3_RECONCILE_INTERVAL: `${RECONCILE_INTERVAL_MS}ms`, MINIS3_REPLICAS: "2" },
      onLine: (name, line) => {
        if (name !== "coordinator" || !line.includes('"job failed"')) return;
        const entry = JSON.parse(line) as { queue?: string; err?: string };
        const versionId = /copies of (\S+) still to delete/.exec(entry.err ?? "")?.[1];
        if (entry.queue === "cleanup" && versionId) cleanupFailures.push({ at: Date.now(), versionId });
      },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("retries its versions' cleanups and purges with a bounded backoff, not every 5 s, and finishes them once it is back", async () => {
    const stats = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        expect((await upload(cluster.httpUrl, `lost/${i}`, randomBytes(2000))).status).toBe(201);
        return (await statOf(cluster.httpUrl, `lost/${i}`))!;
      }),
    );
    const onLost = stats.filter((s) => s.replicas.includes("storage-3")).map((s) => s.versionId);
    expect(onLost.length).toBeGreaterThan(0);

    await cluster.stopNode("storage-3", "SIGKILL");
    await waitNodeDown(cluster, "storage-3", 15_000);
    const deletedAt = Date.now();
    for (const s of stats) expect((await remove(cluster.httpUrl, s.key)).status).toBe(200);

    const purgeFailures = async () =>
      (await getJson<{ transitions: { kind: string; failed: number }[] }>(`${cluster.httpUrl}/status/transitions`)).transitions.find(
        (t) => t.kind === "purge",
      )!.failed;
    await sleep(deletedAt + WINDOW_FROM_MS - Date.now());
    const windowStart = Date.now();
    const purgesBefore = await purgeFailures();
    await sleep(WINDOW_MS);
    const purgesInWindow = (await purgeFailures()) - purgesBefore;
    const windowEnd = Date.now();

    // Retried: every version's cleanup failed at least once (the counting works), and nothing was purged.
    for (const v of onLost) expect(cleanupFailures.some((f) => f.versionId === v)).toBe(true);
    const inWindow = (v: string) => cleanupFailures.filter((f) => f.versionId === v && f.at >= windowStart && f.at < windowEnd).length;
    const counts = onLost.map(inWindow);
    process.stdout.write(
      `finding 10: ${onLost.length} versions on the lost node; in ${WINDOW_MS} ms, cleanup attempts ${counts.join(",")}, purge attempts ${purgesInWindow}\n`,
    );
    expect(Math.max(...counts)).toBeLessThanOrEqual(MOST_ATTEMPTS);
    expect(purgesInWindow).toBeLessThanOrEqual(MOST_ATTEMPTS * onLost.length);
    expect(tierOf(await statusOf(cluster.httpUrl), "trash").objects).toBeGreaterThanOrEqual(onLost.length);

    // Back: the backoff is bounded, so the purges and the cleanups finish.
    cluster.startNode("storage-3");
    await waitFor(
      "the trash empty and no cleanup job left",
      async () => {
        const s = await statusOf(cluster.httpUrl);
        const c = s.queues.find((q) => q.name === "cleanup")!;
        return tierOf(s, "trash").objects === 0 && c.waiting + c.delayed + c.active + c.failed === 0 ? true : undefined;
      },
      12 * RECONCILE_INTERVAL_MS + 30_000,
      500,
    );
  }, 150_000);
});
