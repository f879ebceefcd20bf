// Engine views → minis3.v1 messages.
import type {
  ClusterStatus,
  NodeStatus,
  ObjectInfo,
  RehomeStatus,
  RepairStatus,
  ScrubStatus,
  TrashEntry,
} from "../../rpc/gen/minis3/v1/object";
import type { ClusterStatusView, NodeStatusView, ScrubStatusView } from "../admin/cluster-admin";
import type { ObjectView, TrashEntryView } from "../objects/object-engine";

/** The message has the view's fields one for one; copied so later changes to either stay local. */
export function objectInfo(v: ObjectView): ObjectInfo {
  // A head's `next` rides along unencoded (ObjectInfo has no such field): HeadObjectResponse carries it.
  return { ...v, replicas: [...v.replicas], metadata: { ...v.metadata } };
}

export function trashEntry(t: TrashEntryView): TrashEntry {
  return { object: objectInfo(t.object), deletedAtMs: t.deletedAtMs, purgeAtMs: t.purgeAtMs, reason: t.reason };
}

export function clusterStatus(s: ClusterStatusView): ClusterStatus {
  return {
    nodes: s.nodes.map(nodeStatus),
    tiers: s.tiers.map((t) => ({ tier: t.tier, objects: t.objects, bytes: t.bytes })),
    queues: s.queues.map((q) => ({ name: q.name, waiting: q.waiting, delayed: q.delayed, active: q.active, failed: q.failed })),
    coordinators: s.coordinators.map((c) => ({
      id: c.id,
      self: c.self,
      address: c.address,
      state: c.state,
      lastBeatAtMs: c.lastBeatAtMs,
      silentForMs: c.silentForMs,
      pid: c.pid,
    })),
    readCache: { enabled: s.readCache.enabled, rows: s.readCache.rows },
    scrub: scrubStatus(s.scrub),
    repair: s.repair ? repairStatus(s.repair) : undefined,
    rehome: s.rehome ? rehomeStatus(s.rehome) : undefined,
  };
}

function repairStatus(r: NonNullable<ClusterStatusView["repair"]>): RepairStatus {
  return { ...r, lostNodes: [...r.lostNodes], etaSeconds: r.etaSeconds ?? undefined };
}

function rehomeStatus(r: NonNullable<ClusterStatusView["rehome"]>): RehomeStatus {
  return {
    awayFromHome: r.awayFromHome ?? undefined,
    underReplicated: r.underReplicated ?? undefined,
    passes: r.passes,
    lastPassEndedAtMs: r.lastPass?.endedAtMs,
    movedVersions: r.moved.versions,
    movedBytes: r.moved.bytes,
  };
}

export function nodeStatus(n: NodeStatusView): NodeStatus {
  return {
    id: n.id,
    kind: n.kind,
    address: n.address,
    live: n.live,
    heartbeatAtMs: n.heartbeatAtMs,
    usedBytes: n.usedBytes,
    zone: n.zone,
    state: n.state,
    blobCount: n.blobCount,
    freeBytes: n.freeBytes ?? undefined,
    silentForMs: n.silentForMs,
    versionsLeft: n.versionsLeft,
    metricsPort: n.metricsPort ?? undefined,
  };
}

/** The view nests the pass and the totals; the message is flat (proto3 keeps it simple to read). */
function scrubStatus(s: ScrubStatusView): ScrubStatus {
  return {
    rateBytesPerSecond: s.rateBytesPerSecond,
    owner: s.owner,
    leaseUntilMs: s.leaseUntilMs,
    passStartedAtMs: s.pass.startedAtMs ?? undefined,
    passVersionsChecked: s.pass.versionsChecked,
    passBytesChecked: s.pass.bytesChecked,
    passProgress: s.pass.progress,
    passes: s.passes,
    lastPassEndedAtMs: s.lastPassEndedAtMs ?? undefined,
    versionsChecked: s.totals.versionsChecked,
    bytesChecked: s.totals.bytesChecked,
    corrupt: s.totals.corrupt,
    missing: s.totals.missing,
    unreachable: s.totals.unreachable,
    repairsQueued: s.totals.repairsQueued,
    orphansDeleted: s.totals.orphansDeleted,
  };
}
