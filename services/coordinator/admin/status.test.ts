import type { NodeRecord } from "../../membership/node-record";
import type { ScrubState } from "../catalogue/scrub-queries";
import type { CacheLease } from "../cluster/invalidation-bus";
import type { ClusterStatusView } from "./cluster-admin";
import { SCRUB_VIEW } from "./testing/scrub-view";
import { ClusterStatus, type ClusterStatusDeps } from "./status";

const node = (id: string, live: boolean, state = live ? "up" : "stopped"): NodeRecord => ({
  id,
  kind: "storage",
  address: `10.0.0.1:${id.length}`,
  zone: "local",
  metricsPort: 9100,
  blobCount: 3,
  usedBytes: 300,
  freeBytes: 1000,
  state,
  live,
  heartbeatAtMs: 1700000000000,
  silentForMs: live ? 10 : 60_000,
});

const SCRUB: ScrubState = {
  owner: "host:50051#ab12cd34",
  leaseUntilMs: 1700000030000,
  cursor: "v0000000000000000000000000042",
  pass: { startedAtMs: 1699999000000, versions: 2, bytes: 8192 },
  passes: 3,
  lastPassEndedAtMs: 1699998000000,
  totals: { versions: 17, bytes: 70000, corrupt: 1, missing: 2, unreachable: 5, repairsQueued: 3, orphansDeleted: 4 },
};
const scrub = { state: async () => SCRUB };

const COORDINATORS: ClusterStatusView["coordinators"] = [
  { id: "host:50051/ab", address: "host:50051", self: true, state: "up", lastBeatAtMs: 1700000000000, silentForMs: 200, pid: 42 },
  { id: "other:50052/cd", address: "other:50052", self: false, state: "down", lastBeatAtMs: 1699999990000, silentForMs: 10_000 },
];

const QUEUES: ClusterStatusView["queues"] = [{ name: "trash", waiting: 2, delayed: 0, active: 1, failed: 0 }];

function deps(over: Partial<ClusterStatusDeps> = {}): ClusterStatusDeps {
  return {
    catalogue: {
      tierTotals: async () => [{ tier: "hot", objects: 5, bytes: 500 }],
      ping: async () => undefined,
      upcoming: async () => [],
      scrub,
    },
    directory: {
      all: () => [node("storage-1", true), node("storage-2", false), node("storage-3", true, "draining")],
      retire: async (id) => ({ ...node(id, false), state: "removed" }),
      memberState: (n) => (n.state === "draining" ? "draining" : n.live ? "up" : "down"),
    },
    roster: { list: async () => COORDINATORS },
    removal: {
      remove: async (id) => ({ node: node(id, true, "draining"), versionsLeft: 7 }),
      versionsLeft: async (n) => (n.id === "storage-3" ? 4 : 0),
    },
    // storage-1 answers GetInfo; storage-2 is down and is not asked
    nodes: {
      client: (id) => ({
        info: async () => {
          if (id !== "storage-1") throw new Error(`${id} was asked`);
          return { id, kind: "storage", blobCount: 3, usedBytes: 300, freeBytes: 1000, unreadableRecords: 2 };
        },
      }),
    },
    placement: { liveStorageNodes: () => 2 },
    cache: { enabled: false, size: 0 },
    cacheBus: { leasesMissing: () => [] }, // a coordinator that caches nothing (MINIS3_READ_CACHE=0)
    scheduler: { queueStatus: async () => QUEUES },
    writeQuorum: 2,
    config: { scrubRate: SCRUB_VIEW.rateBytesPerSecond, hotTtl: 60_000 },
    redis: { ping: async () => undefined },
    ...over,
  };
}

describe("cluster status", () => {
  test("/status: nodes, tiers, queues, coordinators and read cache, as the front doors serve them", async () => {
    expect(await new ClusterStatus(deps()).status()).toEqual({
      nodes: [
        {
          id: "storage-1",
          kind: "storage",
          address: "10.0.0.1:9",
          zone: "local",
          metricsPort: 9100,
          state: "up",
          live: true,
          heartbeatAtMs: 1700000000000,
          silentForMs: 10,
          blobCount: 3,
          usedBytes: 300,
          freeBytes: 1000,
          unreadableRecords: 2,
        },
        {
          id: "storage-2",
          kind: "storage",
          address: "10.0.0.1:9",
          zone: "local",
          metricsPort: 9100,
          state: "down",
          live: false,
          heartbeatAtMs: 1700000000000,
          silentForMs: 60_000,
          blobCount: 3,
          usedBytes: 300,
          freeBytes: 1000,
        },
        expect.objectContaining({ id: "storage-3", state: "draining", live: true, versionsLeft: 4 }),
      ],
      tiers: [{ tier: "hot", objects: 5, bytes: 500 }],
      queues: QUEUES,
      coordinators: COORDINATORS,
      readCache: { enabled: false, rows: 0 },
      scrub: SCRUB_VIEW, // the catalogue holds 5 versions
    });
  });

  test("/status names the leases a configured read cache waits for while it serves nothing", async () => {
    const cacheBus = { leasesMissing: (): CacheLease[] => ["redis", "fence"] };
    const off = await new ClusterStatus(deps({ cacheBus })).status();
    expect(off.readCache).toEqual({ enabled: false, rows: 0, waitingFor: ["redis", "fence"] });
    const on = await new ClusterStatus(deps({ cacheBus, cache: { enabled: true, size: 3 } })).status();
    expect(on.readCache).toEqual({ enabled: true, rows: 3 });
  });

  test("/status shows a node that does not answer GetInfo without its damaged-record count", async () => {
    const nodes = {
      client: () => ({
        info: async (): Promise<never> => {
          throw new Error("deadline exceeded");
        },
      }),
    };
    const s = await new ClusterStatus(deps({ nodes })).status();
    expect(s.nodes.map((n) => n.unreadableRecords)).toEqual([undefined, undefined, undefined]);
    expect(s.nodes[0].live).toBe(true);
  });

  test("removing a node answers with its state and the versions still to copy", async () => {
    expect(await new ClusterStatus(deps()).removeNode("storage-1")).toMatchObject({ id: "storage-1", state: "draining", versionsLeft: 7 });
  });

  test("/status still answers when Redis does not, saying why the queues are missing", async () => {
    const scheduler = {
      queueStatus: async (): Promise<never> => {
        throw new Error("Redis did not answer within 3000 ms");
      },
    };
    const s = await new ClusterStatus(deps({ scheduler })).status();
    expect(s.queues).toEqual([]);
    expect(s.queuesError).toBe("Redis did not answer within 3000 ms");
    expect(s.tiers).toHaveLength(1);
  });

  test("/healthz is ok only while the catalogue answers and a write quorum of storage nodes is live", async () => {
    expect(await new ClusterStatus(deps()).health()).toEqual({ ok: true, liveStorageNodes: 2, writeQuorum: 2 });
    expect(await new ClusterStatus(deps({ placement: { liveStorageNodes: () => 1 } })).health()).toEqual({
      ok: false,
      liveStorageNodes: 1,
      writeQuorum: 2,
    });
    const catalogue = {
      scrub,
      tierTotals: async () => [],
      upcoming: async () => [],
      ping: async (): Promise<void> => {
        throw new Error("ECONNREFUSED");
      },
    };
    expect((await new ClusterStatus(deps({ catalogue })).health()).ok).toBe(false);
  });
});
