import { randomBytes, createHash } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { statOf } from "../support/api";
import { ClusterInspector } from "../support/cluster-inspector";
import { retrieve, upload } from "../support/http";
import { waitFor } from "../support/wait";

// A storage node that stays down past MINIS3_REPAIR_AFTER is taken as lost: every object that had
// a copy on it gets a new copy on another node, so there are two again; when the node comes back,
// its stale copies are removed.

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("repair after a storage node is lost", () => {
  let cluster: TestCluster;
  let nodes: ClusterInspector;
  const bodies = new Map<string, Buffer>();

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      env: { MINIS3_REPAIR_AFTER: "3s", MINIS3_RECONCILE_INTERVAL: "500ms", MINIS3_TRASH_TTL: "10m" },
    });
    nodes = new ClusterInspector(cluster);
  }, 90_000);

  afterAll(async () => {
    await nodes?.close();
    await cluster?.stop();
  });

  it("brings every object back to two copies on live nodes, and cleans the old node when it returns", async () => {
    for (let i = 0; i < 12; i++) {
      const body = randomBytes(i === 0 ? 2 * 1024 * 1024 : 2000 + i); // one large object, the rest small
      bodies.set(`repair/${i}`, body);
      expect((await upload(cluster.httpUrl, `repair/${i}`, body)).status).toBe(201);
    }
    const before = new Map<string, { versionId: string; replicas: string[] }>();
    for (const key of bodies.keys()) before.set(key, (await statOf(cluster.httpUrl, key))!);
    const onLost = [...before].filter(([, s]) => s.replicas.includes("storage-2"));
    expect(onLost.length).toBeGreaterThan(0);

    await cluster.stopNode("storage-2", "SIGKILL");

    await waitFor(
      "every object on two live nodes",
      async () => {
        for (const key of bodies.keys()) {
          const s = await statOf(cluster.httpUrl, key);
          if (!s || s.replicas.length !== 2 || s.replicas.includes("storage-2")) return undefined;
        }
        return true;
      },
      45_000,
      500,
    );

    // The new copies are real: each listed replica holds the right bytes.
    for (const [key, body] of bodies) {
      const s = (await statOf(cluster.httpUrl, key))!;
      for (const id of s.replicas) expect((await nodes.hashOn(id, s.versionId)).sha256).toBe(sha(body));
      const got = await retrieve(cluster.httpUrl, key);
      expect(sha(got.body)).toBe(sha(body));
    }

    cluster.startNode("storage-2");
    await waitFor(
      "stale copies removed from storage-2",
      async () => {
        for (const [, s] of onLost) if (await nodes.blobOn("storage-2", s.versionId)) return undefined;
        return true;
      },
      45_000,
      500,
    );
  });
});
