import type { Catalogue } from "../catalogue/catalogue";
import type { ReadCache } from "../catalogue/read-cache";
import type { ScrubQueries, ScrubState } from "../catalogue/scrub-queries";
import type { CoordinatorPresence } from "../cluster/coordinator-presence";
import type { NodeDirectory } from "../cluster/node-directory";
import type { Placement } from "../placement/placement";
import type { NodeRecord } from "../../membership/node-record";
import type { NodeClient } from "../../rpc/client/node-client";
import type { ClusterAdmin, ClusterStatusView, HealthView, NodeStatusView, ScrubStatusView } from "./cluster-admin";
import type { RehomeStatusView, RepairStatusView } from "../lifecycle/rehome/repair-views";

/** The slice of the coordinator's context /status and /healthz are composed from. */
export interface ClusterStatusDeps {
  readonly catalogue: Pick<Catalogue, "tierTotals" | "ping"> & { readonly scrub: Pick<ScrubQueries, "state"> };
  readonly directory: Pick<NodeDirectory, "all" | "retire">;
  /** Asks a node for what only it knows (GetInfo: its damaged segment records). */
  readonly nodes: { client(id: string): Pick<NodeClient, "info"> };
  readonly placement: Pick<Placement, "liveStorageNodes">;
  readonly presence: Pick<CoordinatorPresence, "id" | "others" | "pidOf">;
  readonly cache: Pick<ReadCache, "enabled" | "size">;
  /** The lifecycle's queues (the Scheduler); gives up after a few seconds when Redis is away. */
  readonly scheduler: { queueStatus(): Promise<ClusterStatusView["queues"]> };
  /** The lifecycle's due-row poller, if this coordinator runs one. */
  readonly transitions?: { transitions(): NonNullable<ClusterStatusView["transitions"]> };
  /** The lifecycle's repair backlog and rehome passes, if this coordinator runs them. */
  readonly repairs?: { repairStatus(): Promise<RepairStatusView>; rehomeStatus(): RehomeStatusView };
  readonly writeQuorum: number;
  readonly config: { readonly scrubRate: number };
}

/** How long /status waits for a node's GetInfo: a node slower than this is shown without its count. */
const NODE_INFO_DEADLINE_MS = 1000;

/** What /status, /healthz and AdminService.GetStatus report, outside the object engine. */
export class ClusterStatus implements ClusterAdmin {
  constructor(private readonly deps: ClusterStatusDeps) {}

  async status(): Promise<ClusterStatusView> {
    const { catalogue, directory, presence, cache, scheduler } = this.deps;
    let queuesError: string | undefined;
    const repairs = this.deps.repairs;
    const records = directory.all();
    const [tiers, scrub, repair, queues, unreadable] = await Promise.all([
      catalogue.tierTotals(),
      catalogue.scrub.state(),
      repairs?.repairStatus(),
      scheduler.queueStatus().catch((e: Error) => {
        queuesError = e.message;
        return [];
      }),
      Promise.all(records.map((n) => this.unreadableRecords(n))),
    ]);
    return {
      ...(queuesError ? { queuesError } : {}),
      nodes: records.map((n, i) => (unreadable[i] === undefined ? nodeView(n) : { ...nodeView(n), unreadableRecords: unreadable[i] })),
      tiers,
      queues,
      coordinators: [presence.id, ...presence.others()].map((id) => ({ id, self: id === presence.id, pid: presence.pidOf(id) })),
      readCache: { enabled: cache.enabled, rows: cache.size },
      ...(this.deps.transitions ? { transitions: this.deps.transitions.transitions() } : {}),
      scrub: scrubView(
        scrub,
        this.deps.config.scrubRate,
        tiers.reduce((n, t) => n + t.objects, 0),
      ),
      ...(repair ? { repair } : {}),
      ...(repairs ? { rehome: repairs.rehomeStatus() } : {}),
    };
  }

  /** A live node's count of damaged records; undefined for one down or too slow to answer. */
  private unreadableRecords(n: NodeRecord): Promise<number | undefined> {
    if (!n.live) return Promise.resolve(undefined);
    return this.deps.nodes
      .client(n.id)
      .info(NODE_INFO_DEADLINE_MS)
      .then(
        (i) => i.unreadableRecords,
        () => undefined,
      );
  }

  async retireNode(id: string): Promise<NodeStatusView> {
    return nodeView(await this.deps.directory.retire(id));
  }

  async health(): Promise<HealthView> {
    const { catalogue, placement, writeQuorum } = this.deps;
    let catalogueOk = true;
    try {
      await catalogue.ping();
    } catch {
      catalogueOk = false;
    }
    const live = placement.liveStorageNodes();
    return { ok: catalogueOk && live >= writeQuorum, liveStorageNodes: live, writeQuorum };
  }
}

function scrubView(s: ScrubState, rateBytesPerSecond: number, versions: number): ScrubStatusView {
  const t = s.totals;
  return {
    rateBytesPerSecond,
    owner: s.owner,
    leaseUntilMs: s.leaseUntilMs,
    pass: {
      startedAtMs: s.pass.startedAtMs,
      versionsChecked: s.pass.versions,
      bytesChecked: s.pass.bytes,
      progress: versions ? Math.min(1, s.pass.versions / versions) : 1,
    },
    passes: s.passes,
    lastPassEndedAtMs: s.lastPassEndedAtMs,
    totals: {
      versionsChecked: t.versions,
      bytesChecked: t.bytes,
      corrupt: t.corrupt,
      missing: t.missing,
      unreachable: t.unreachable,
      repairsQueued: t.repairsQueued,
      orphansDeleted: t.orphansDeleted,
    },
  };
}

const nodeView = (n: NodeRecord): NodeStatusView => ({
  id: n.id,
  kind: n.kind,
  address: n.address,
  live: n.live,
  state: n.state,
  heartbeatAtMs: n.heartbeatAtMs,
  usedBytes: n.usedBytes,
});
