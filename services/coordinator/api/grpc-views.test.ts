import { ClusterStatus } from "../../rpc/gen/minis3/v1/object";
import { NO_SCRUB, type ClusterStatusView } from "../admin/cluster-admin";
import { SCRUB_VIEW } from "../admin/testing/scrub-view";
import { clusterStatus } from "./grpc-views";

const view = (scrub: ClusterStatusView["scrub"]): ClusterStatusView => ({
  nodes: [],
  tiers: [],
  queues: [],
  coordinators: [{ id: "c1/ab", address: "c1", self: true, state: "up", lastBeatAtMs: 1700000000000, silentForMs: 5 }],
  readCache: { enabled: false, rows: 0 },
  scrub,
});

/** Through the wire and back, as an AdminService client sees it. */
const overTheWire = (v: ClusterStatusView) => ClusterStatus.decode(ClusterStatus.encode(clusterStatus(v)).finish());

describe("AdminService status message", () => {
  test("carries the scrubber's pass, totals and lease, field for field", () => {
    const got = overTheWire(view(SCRUB_VIEW));
    expect(got.scrub).toEqual({
      rateBytesPerSecond: 4194304,
      owner: "host:50051#ab12cd34",
      leaseUntilMs: 1700000030000,
      passStartedAtMs: 1699999000000,
      passVersionsChecked: 2,
      passBytesChecked: 8192,
      passProgress: 0.4,
      passes: 3,
      lastPassEndedAtMs: 1699998000000,
      versionsChecked: 17,
      bytesChecked: 70000,
      corrupt: 1,
      missing: 2,
      unreachable: 5,
      repairsQueued: 3,
      orphansDeleted: 4,
    });
  });

  test("a pass not started and no pass ended yet stay unset, not 0 (the epoch)", () => {
    const got = overTheWire(view(NO_SCRUB));
    expect(got.scrub?.passStartedAtMs).toBeUndefined();
    expect(got.scrub?.lastPassEndedAtMs).toBeUndefined();
  });

  test("carries repair progress and the rehome pass; what is not known yet stays unset", () => {
    const got = overTheWire({
      ...view(NO_SCRUB),
      repair: {
        rateBytesPerSecond: 33554432,
        copiedBytesPerSecond: 1000,
        lostNodes: ["storage-2"],
        versionsLeft: 7,
        bytesLeft: 70000,
        underReplicated: 2,
        etaSeconds: null,
      },
      rehome: {
        awayFromHome: 3,
        underReplicated: null,
        passes: 4,
        lastPass: null,
        pass: null,
        moved: { versions: 5, bytes: 5000 },
      },
    });
    expect(got.repair).toEqual({
      rateBytesPerSecond: 33554432,
      copiedBytesPerSecond: 1000,
      lostNodes: ["storage-2"],
      versionsLeft: 7,
      bytesLeft: 70000,
      underReplicated: 2,
    });
    expect(got.rehome).toEqual({ awayFromHome: 3, passes: 4, movedVersions: 5, movedBytes: 5000 });
  });

  test("carries each node's membership and each coordinator's beat; versions left only while draining", () => {
    const node = {
      id: "storage-2",
      kind: "storage",
      address: "10.0.0.2:7001",
      zone: "z1",
      live: true,
      heartbeatAtMs: 1700000000000,
      silentForMs: 300,
      blobCount: 12,
      usedBytes: 4096,
      freeBytes: 1 << 30,
      metricsPort: 9101,
    };
    const got = overTheWire({
      ...view(NO_SCRUB),
      nodes: [
        { ...node, state: "draining", versionsLeft: 0 },
        { ...node, id: "storage-3", state: "suspected" },
      ],
    });
    expect(got.nodes).toEqual([
      { ...node, state: "draining", versionsLeft: 0 },
      { ...node, id: "storage-3", state: "suspected", versionsLeft: undefined },
    ]);
    expect(got.coordinators).toEqual([
      { id: "c1/ab", address: "c1", self: true, state: "up", lastBeatAtMs: 1700000000000, silentForMs: 5, pid: undefined },
    ]);
  });
});
