import type { Catalogue } from "../catalogue/catalogue";
import type { ReadCache } from "../catalogue/read-cache";
import type { ScrubQueries, ScrubState } from "../catalogue/scrub-queries";
import type { CoordinatorRoster } from "../cluster/coordinator-roster";
import type { InvalidationBus } from "../cluster/invalidation-bus";
import type { NodeDirectory } from "../cluster/node-directory";
import type { Placement } from "../placement/placement";
import type { NodeRecord } from "../../membership/node-record";
import type { NodeClient } from "../../rpc/client/node-client";
import type {
  ClusterAdmin,
  ClusterStatusView,
  CoordinationView,
  HealthView,
  NodeStatusView,
  ReadinessView,
  ScrubStatusView,
  UpcomingTransition,
} from "./cluster-admin";
import type { RehomeStatusView, RepairStatusView } from "../lifecycle/rehome/repair-views";
import type { TransitionView } from "../lifecycle/transition-stats";
import type { NodeRemoval } from "./node-removal";
import { Readiness, type ReadinessDeps } from "./readiness";

/** The slice of the coordinator's context /status and /healthz are composed from. */
export interface ClusterStatusDeps {
  readonly catalogue: Pick<Catalogue, "tierTotals" | "ping" | "upcoming"> & { readonly scrub: Pick<ScrubQueries, "state"> };
  readonly directory: Pick<NodeDirectory, "all" | "retire" | "memberState">;
  /** Asks a node for what only it knows (GetInfo: its damaged segment records). */
  readonly nodes: { client(id: string): Pick<NodeClient, "info"> };
  /** Every coordinator's row. */
  readonly roster: Pick<CoordinatorRoster, "list">;
  /** Removals: draining nodes' progress. */
  readonly removal: Pick<NodeRemoval, "remove" | "versionsLeft">;
  readonly placement: Pick<Placement, "liveStorageNodes">;
  readonly cache: Pick<ReadCache, "enabled" | "size">;
  /** Why the read cache serves nothing, when it does not (nothing when it caches nothing at all). */
  readonly cacheBus: Pick<InvalidationBus, "leasesMissing">;
  /** The lifecycle's queues (the Scheduler); gives up after a few seconds when Redis is away. */
  readonly scheduler: { queueStatus(): Promise<ClusterStatusView["queues"]> };
  /** The lifecycle's due-row poller, if this coordinator runs one. */
  readonly transitions?: { transitions(): NonNullable<ClusterStatusView["transitions"]> };
  /** The lifecycle's repair backlog and rehome passes, if this coordinator runs them. */
  readonly repairs?: { repairStatus(): Promise<RepairStatusView>; rehomeStatus(): RehomeStatusView };
  readonly writeQuorum: number;
  readonly config: { readonly scrubRate: number; readonly hotTtl: number };
  /** The queues' Redis, for /readyz. */
  readonly redis: ReadinessDeps["redis"];
}

/** How long /status waits for a node's GetInfo: a node slower than this is shown without its count. */
const NODE_INFO_DEADLINE_MS = 1000;

/** What /status, /healthz and AdminService.GetStatus report, outside the object engine. */
export class ClusterStatus implements ClusterAdmin {
  private readonly ready: Readiness;

  constructor(private readonly deps: ClusterStatusDeps) {
    this.ready = new Readiness(deps);
  }

  readiness(): Promise<ReadinessView> {
    return this.ready.check();
  }

  async status(): Promise<ClusterStatusView> {
    const { catalogue, directory, roster, scheduler } = this.deps;
    let queuesError: string | undefined;
    const repairs = this.deps.repairs;
    const [tiers, scrub, repair, queues, coordinators, nodes] = await Promise.all([
      catalogue.tierTotals(),
      catalogue.scrub.state(),
      repairs?.repairStatus(),
      scheduler.queueStatus().catch((e: Error) => {
        queuesError = e.message;
        return [];
      }),
      roster.list(),
      Promise.all(
        directory.all().map(async (n) => {
          const [view, unreadable] = await Promise.all([this.nodeView(n), this.unreadableRecords(n)]);
          return unreadable === undefined ? view : { ...view, unreadableRecords: unreadable };
        }),
      ),
    ]);
    return {
      ...(queuesError ? { queuesError } : {}),
      nodes,
      tiers,
      queues,
      coordinators,
      readCache: this.readCache(),
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

  private readCache(): CoordinationView["readCache"] {
    const { cache, cacheBus } = this.deps;
    // enabled first: asking it is what wakes an idle cache (InvalidationBus rule 6).
    const view = { enabled: cache.enabled, rows: cache.size };
    const missing = view.enabled ? [] : cacheBus.leasesMissing();
    return missing.length ? { ...view, waitingFor: missing } : view;
  }

  transitions(): TransitionView[] {
    return this.deps.transitions?.transitions() ?? [];
  }

  upcoming(limit: number): Promise<UpcomingTransition[]> {
    return this.deps.catalogue.upcoming(this.deps.config.hotTtl, limit);
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
    return this.nodeView(await this.deps.directory.retire(id));
  }

  async removeNode(id: string): Promise<NodeStatusView> {
    const { node, versionsLeft } = await this.deps.removal.remove(id);
    return this.nodeView(node, versionsLeft);
  }

  private async nodeView(n: NodeRecord, versionsLeft?: number): Promise<NodeStatusView> {
    const state = this.deps.directory.memberState(n);
    const left = state === "draining" ? (versionsLeft ?? (await this.deps.removal.versionsLeft(n))) : undefined;
    return {
      id: n.id,
      kind: n.kind,
      address: n.address,
      zone: n.zone,
      metricsPort: n.metricsPort,
      state,
      live: n.live,
      heartbeatAtMs: n.heartbeatAtMs,
      silentForMs: n.silentForMs,
      blobCount: n.blobCount,
      usedBytes: n.usedBytes,
      freeBytes: n.freeBytes,
      ...(left === undefined ? {} : { versionsLeft: left }),
    };
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
