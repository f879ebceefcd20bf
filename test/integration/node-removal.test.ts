import { createHash, randomBytes } from "node:crypto";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import type { ClusterStatusView, NodeStatusView } from "../../services/coordinator/admin/cluster-admin";
import { removeNode } from "../../services/coordinator/api/testing/grpc-clients";
import { statOf } from "../support/api";
import { ClusterInspector } from "../support/cluster-inspector";
import { getJson, postJson, retrieve, upload } from "../support/http";
import { waitFor } from "../support/wait";

// Taking a node out for good (issue 13 item 4): its copies are made elsewhere first, then it is
// removed. A live node is drained (its copies are the sources); a dead one's copies come from the
// other replicas. Four storage nodes, R = 2: remove a live one, then a killed one, and the last
// removal that would leave fewer than R is refused.

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("removing storage nodes", () => {
  let cluster: TestCluster;
  let inspector: ClusterInspector;
  const bodies = new Map<string, Buffer>();

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 4,
      env: { MINIS3_REPAIR_AFTER: "3s", MINIS3_RECONCILE_INTERVAL: "500ms", MINIS3_TRASH_TTL: "10m", MINIS3_SCRUB_RATE: "0" },
    });
    inspector = new ClusterInspector(cluster);
  }, 90_000);

  afterAll(async () => {
    await inspector?.close();
    await cluster?.stop();
  });

  const removeUrl = (id: string) => `${cluster.httpUrl}/admin/nodes/${id}/remove`;
  const nodeIn = async (id: string): Promise<NodeStatusView> =>
    (await getJson<ClusterStatusView>(`${cluster.httpUrl}/status`)).nodes.find((n) => n.id === id)!;

  /** Every object reads back byte-exact and lists exactly R copies, each real, none on `gone`. */
  async function expectAllHomeWithout(gone: string[]): Promise<void> {
    for (const [key, body] of bodies) {
      const s = (await statOf(cluster.httpUrl, key))!;
      expect(s.replicas).toHaveLength(2);
      for (const id of gone) expect(s.replicas).not.toContain(id);
      for (const id of s.replicas) expect((await inspector.hashOn(id, s.versionId)).sha256).toBe(sha(body));
      const got = await retrieve(cluster.httpUrl, key);
      expect(got.status).toBe(200);
      expect(sha(got.body)).toBe(sha(body));
    }
  }

  const waitRemoved = (id: string) =>
    waitFor(`${id} removed`, async () => ((await nodeIn(id)).state === "removed" ? true : undefined), 60_000, 300);

  it("drains a live node: every version copied elsewhere first, then removed, and it can be stopped", async () => {
    for (let i = 0; i < 24; i++) {
      const body = randomBytes(i % 8 === 0 ? 2 * 1024 * 1024 + i : 3000 + i); // a few large objects, the rest small
      bodies.set(`removal/${i}`, body);
      expect((await upload(cluster.httpUrl, `removal/${i}`, body)).status).toBe(201);
    }
    const onIt: string[] = [];
    for (const key of bodies.keys()) {
      const s = (await statOf(cluster.httpUrl, key))!;
      if (s.replicas.includes("storage-2")) onIt.push(s.versionId);
    }
    expect(onIt.length).toBeGreaterThan(0);

    expect((await postJson(removeUrl("storage-9"))).status).toBe(404);
    const first = await postJson(removeUrl("storage-2"));
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({ id: "storage-2", state: "draining", live: true });
    expect(first.json.versionsLeft).toBeGreaterThan(0);
    // Repeating it changes nothing.
    expect(await postJson(removeUrl("storage-2"))).toMatchObject({ status: 202, json: { state: "draining" } });

    // New writes go elsewhere at once (the node left placement).
    for (let i = 0; i < 6; i++) {
      const key = `removal/after-${i}`;
      const body = randomBytes(2000 + i);
      bodies.set(key, body);
      expect((await upload(cluster.httpUrl, key, body)).status).toBe(201);
      expect((await statOf(cluster.httpUrl, key))!.replicas).not.toContain("storage-2");
    }

    await waitRemoved("storage-2");
    expect(await nodeIn("storage-2")).toMatchObject({ state: "removed" });
    expect((await nodeIn("storage-2")).versionsLeft).toBeUndefined();
    await expectAllHomeWithout(["storage-2"]);
    // Its copies were deleted as they were replaced (cleanup): the node is empty of them.
    for (const v of onIt) expect(await inspector.blobOn("storage-2", v)).toBeNull();
    // And again: a removed node answers as removed.
    expect(await postJson(removeUrl("storage-2"))).toMatchObject({ status: 200, json: { state: "removed" } });

    await cluster.stopNode("storage-2");
    await expectAllHomeWithout(["storage-2"]);
  }, 180_000);

  it("removes a dead node from the other copies, and refuses to go below R", async () => {
    await cluster.stopNode("storage-3", "SIGKILL");
    // Through AdminService this time; the node may still look live for MINIS3_NODE_DOWN_AFTER: it drains either way.
    const answered = await removeNode(cluster.grpcAddress, "storage-3");
    expect(answered).toMatchObject({ id: "storage-3", state: "draining" });
    await waitRemoved("storage-3");
    await expectAllHomeWithout(["storage-2", "storage-3"]);

    // Two storage nodes left, R = 2: removing either is refused, over HTTP and gRPC.
    const refused = await postJson(removeUrl("storage-4"));
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ error: "Conflict", message: expect.stringMatching(/fewer than MINIS3_REPLICAS=2/) });
    await expect(removeNode(cluster.grpcAddress, "storage-1")).rejects.toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION });
    await expect(removeNode(cluster.grpcAddress, "nope")).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND });
    expect((await nodeIn("storage-4")).state).toBe("up");
  }, 180_000);
});
