import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { getClusterStatus } from "../../services/coordinator/api/testing/grpc-clients";
import type { ClusterStatusView, NodeStatusView } from "../../services/coordinator/admin/cluster-admin";
import { getJson } from "../support/http";
import { waitFor } from "../support/wait";

// Membership you can see (issue 13 item 2): /status and AdminService.GetStatus list every node with
// its state, and every coordinator. A node silent for MINIS3_NODE_DOWN_AFTER (2 s here) is down,
// whether it was frozen (SIGSTOP) or killed, and up again once it heartbeats.

describe("membership in /status and AdminService", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({ storageNodes: 3 });
  }, 90_000);

  afterAll(async () => {
    const frozen = cluster?.pid("storage-2");
    if (frozen) process.kill(frozen, "SIGCONT"); // never leave a stopped process behind a failed test
    await cluster?.stop();
  });

  const status = () => getJson<ClusterStatusView>(`${cluster.httpUrl}/status`);
  const nodeIn = async (id: string): Promise<NodeStatusView> => (await status()).nodes.find((n) => n.id === id)!;
  const waitState = (id: string, state: string) =>
    waitFor(`${id} ${state} in /status`, async () => ((await nodeIn(id)).state === state ? true : undefined), 30_000, 200);

  it("shows every node and coordinator, with what each holds and how long it has been silent", async () => {
    const s = await status();
    expect(s.nodes.map((n) => n.id).sort()).toEqual(["backup-1", "delete-1", "storage-1", "storage-2", "storage-3"]);
    for (const n of s.nodes) {
      expect(n).toMatchObject({ state: "up", live: true, zone: expect.any(String), address: expect.stringMatching(/:\d+$/) });
      expect(n.freeBytes).toBeGreaterThan(0); // the backup node's: its MariaDB's data directory, on this host
      expect(n.blobCount).toBeGreaterThanOrEqual(0);
      expect(n.usedBytes).toBeGreaterThanOrEqual(0);
      expect(n.silentForMs).toBeLessThan(2000);
    }
    expect(s.coordinators).toEqual([
      expect.objectContaining({ self: true, state: "up", pid: cluster.pid("coordinator"), address: expect.stringMatching(/:\d+$/) }),
    ]);

    const g = await getClusterStatus(cluster.grpcAddress);
    expect(g.nodes.map((n) => [n.id, n.state, n.kind]).sort()).toEqual(s.nodes.map((n) => [n.id, n.state, n.kind]).sort());
    expect(g.coordinators[0]).toMatchObject({ self: true, state: "up", pid: cluster.pid("coordinator") });
  });

  it("shows a frozen node down after MINIS3_NODE_DOWN_AFTER, and up again when it resumes", async () => {
    const pid = cluster.pid("storage-2")!;
    process.kill(pid, "SIGSTOP");
    try {
      await waitState("storage-2", "down");
      const n = await nodeIn("storage-2");
      expect(n.live).toBe(false);
      expect(n.silentForMs).toBeGreaterThanOrEqual(2000);
      const g = await getClusterStatus(cluster.grpcAddress);
      expect(g.nodes.find((x) => x.id === "storage-2")).toMatchObject({ state: "down", live: false });
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await waitState("storage-2", "up");
    expect((await nodeIn("storage-2")).live).toBe(true);
  }, 90_000);

  it("shows a killed node down, and up again once restarted", async () => {
    await cluster.stopNode("storage-3", "SIGKILL");
    await waitState("storage-3", "down");
    cluster.startNode("storage-3");
    await waitState("storage-3", "up");
    const g = await getClusterStatus(cluster.grpcAddress);
    expect(g.nodes.find((x) => x.id === "storage-3")).toMatchObject({ state: "up", live: true });
  }, 90_000);
});
