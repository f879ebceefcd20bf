import { randomBytes } from "node:crypto";
import { deleteQueueKeys } from "../../deploy/launcher/cluster-cleanup";
import { queueOf, statOf, statusOf } from "../support/api";
import { sha256 } from "../support/bodies";
import { remove, retrieve, retrieveHashed, upload, uploadSeeded, signedFetch } from "../support/http";
import { withLifecycleCluster } from "../support/lifecycle-cluster";
import { sleep, waitFor } from "../support/wait";

// The lifecycle survives losing its queues and its coordinator: MySQL is the truth, so a Redis that
// forgot every job and a coordinator killed mid-copy only delay transitions, never lose or
// duplicate them.

const HOT_TTL_MS = 3000;
const SLACK_MS = 8000;

jest.setTimeout(90_000);

describe("lifecycle under chaos (real cluster)", () => {
  // A long trash TTL: this file checks trash moves, not purges.
  const lc = withLifecycleCluster({ hot: "3s", trash: "10m" });

  const waitHolders = (versionId: string, expected: string[], timeoutMs = SLACK_MS) =>
    lc.withLogs(lc.waitHolders(versionId, expected, timeoutMs, 200));

  it("demotions and trash moves pending in Redis still happen after the queues are wiped", async () => {
    const demoteBodies = [0, 1, 2].map(() => randomBytes(100 * 1024));
    const trashBodies = [0, 1, 2].map(() => randomBytes(50 * 1024));
    const vid = async (key: string, b: Buffer) => JSON.parse((await upload(lc.base, key, b)).body.toString()).versionId as string;
    const demoteIds = await Promise.all(demoteBodies.map((b, i) => vid(`wipe/d${i}`, b)));
    const trashIds = await Promise.all(trashBodies.map((b, i) => vid(`wipe/t${i}`, b)));

    // With the cold and trash nodes down, the jobs are queued but cannot finish: they sit in Redis.
    await lc.cluster.stopNode("backup-1");
    await lc.cluster.stopNode("delete-1");
    for (let i = 0; i < 3; i++) expect((await remove(lc.base, `wipe/t${i}`)).status).toBe(200);
    await lc.withLogs(
      waitFor(
        "demote and trash jobs pending in Redis",
        async () => {
          const s = await statusOf(lc.base);
          const pending = (n: string) => {
            const q = queueOf(s, n);
            return q.waiting + q.delayed + q.active + q.failed;
          };
          return pending("demote") >= 3 && pending("trash") >= 3 ? s : undefined;
        },
        HOT_TTL_MS + SLACK_MS,
        100,
      ),
    );

    // The issue asks for FLUSHALL, but that would wipe every other test run's queues on this shared
    // Redis. Deleting every key under this cluster's own prefix ({prefix}:...) is the same loss for
    // this cluster and nobody else's.
    const wiped = await deleteQueueKeys(lc.cluster.redisUrl, lc.cluster.prefix);
    expect(wiped).toBeGreaterThan(0);
    const after = await statusOf(lc.base);
    expect(queueOf(after, "trash").failed + queueOf(after, "demote").failed).toBe(0);

    lc.cluster.startNode("backup-1");
    lc.cluster.startNode("delete-1");

    for (const [i, v] of demoteIds.entries()) {
      await waitHolders(v, ["backup-1"], HOT_TTL_MS + 3 * SLACK_MS);
      expect((await lc.nodes.version(v))!).toMatchObject({ state: "live", tier: "cold", replicas: ["backup-1"] });
      expect(await lc.nodes.hashOn("backup-1", v)).toEqual({ size: demoteBodies[i].length, sha256: sha256(demoteBodies[i]) });
    }
    for (const [i, v] of trashIds.entries()) {
      await waitHolders(v, ["delete-1"]);
      expect((await lc.nodes.version(v))!).toMatchObject({ state: "trash", tier: "trash", replicas: ["delete-1"] });
      expect(await lc.nodes.hashOn("delete-1", v)).toEqual({ size: trashBodies[i].length, sha256: sha256(trashBodies[i]) });
      expect((await retrieve(lc.base, `wipe/t${i}`)).status).toBe(404);
    }
  });

  it("a coordinator killed with SIGKILL mid-demotion: readable after restart, ends cold exactly once, intact", async () => {
    const size = 64 * 1024 * 1024;
    const up = await uploadSeeded(lc.base, "crash/big", size);
    expect(up.status).toBe(201);
    const v = up.json.versionId as string;
    expect(up.json.sha256).toBe(up.sent.sha256);

    // Kill it while the copy to the backup node is under way.
    await lc.withLogs(
      waitFor("the demotion to start", async () => queueOf(await statusOf(lc.base), "demote").active > 0, HOT_TTL_MS + SLACK_MS, 20),
    );
    await sleep(300);
    const copiedBeforeKill = await lc.nodes.backupCopies(v);
    const killedAt = Date.now();
    await lc.cluster.stopNode("coordinator", "SIGKILL");
    const rowAtKill = (await lc.nodes.version(v))!;

    lc.cluster.startNode("coordinator");
    await lc.cluster.waitHealthy(30_000);
    const restartedAt = Date.now();

    // Readable at once, whatever state the killed demotion left behind.
    const first = await retrieveHashed(lc.base, "crash/big");
    expect(first).toMatchObject({ status: 200, size, sha256: up.sent.sha256 });

    // Then, without reads (they would keep it hot), it must end cold; every look on the way works.
    const cold = await lc.withLogs(
      waitFor(
        "the demotion to finish after the restart",
        async () => {
          const head = await signedFetch(`${lc.base}/retrieve?key=crash%2Fbig`, { method: "HEAD" });
          if (head.status !== 200) throw new Error(`HEAD /retrieve answered ${head.status} after the restart`);
          const s = await statOf(lc.base, "crash/big");
          if (!s) throw new Error("the object vanished after the restart");
          return s.tier === "cold" ? s : undefined;
        },
        60_000,
        250,
      ),
    );
    const coldAt = Date.now();
    expect(cold.replicas).toEqual(["backup-1"]);

    await waitHolders(v, ["backup-1"]);
    expect(await lc.nodes.backupCopies(v)).toEqual({ copies: 1, chunkBytes: size });
    expect(await lc.nodes.hashOn("backup-1", v)).toEqual({ size, sha256: up.sent.sha256 });
    expect((await lc.nodes.version(v))!.cleanup).toEqual([]);
    // The write the kill cut off must not linger as a second, partial copy.
    await lc.withLogs(
      waitFor(
        "no partial copy left on the backup node",
        async () => {
          const left = await lc.nodes.backupLeftovers(v);
          return left.rows === 0 && left.chunkBytes === 0 ? left : undefined;
        },
        SLACK_MS,
        250,
      ),
    );
    const last = await retrieveHashed(lc.base, "crash/big");
    expect(last).toMatchObject({ status: 200, tier: "cold", size, sha256: up.sent.sha256 });
    process.stdout.write(
      `crash mid-demotion: tier at kill ${rowAtKill.tier}, backup copies before kill ${copiedBeforeKill.copies}; ` +
        `restart took ${restartedAt - killedAt} ms, cold ${coldAt - restartedAt} ms after the restart\n`,
    );
  });
});
