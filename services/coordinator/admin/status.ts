import type { Catalogue } from "../catalogue/catalogue";
import type { ReadCache } from "../catalogue/read-cache";
import type { CoordinatorPresence } from "../cluster/coordinator-presence";
import type { NodeDirectory } from "../cluster/node-directory";
import type { Placement } from "../placement/placement";
import type { ClusterAdmin, ClusterStatusView, HealthView } from "./cluster-admin";

/** The slice of the coordinator's context /status and /healthz are composed from. */
export interface ClusterStatusDeps {
  readonly catalogue: Pick<Catalogue, "tierTotals" | "ping">;
  readonly directory: Pick<NodeDirectory, "all">;
  readonly placement: Pick<Placement, "liveStorageNodes">;
  readonly presence: Pick<CoordinatorPresence, "id" | "others">;
  readonly cache: Pick<ReadCache, "enabled" | "size">;
  /** The lifecycle's queues (the Scheduler); gives up after a few seconds when Redis is away. */
  readonly scheduler: { queueStatus(): Promise<ClusterStatusView["queues"]> };
  /** The lifecycle's due-row poller, if this coordinator runs one. */
  readonly transitions?: { transitions(): NonNullable<ClusterStatusView["transitions"]> };
  readonly writeQuorum: number;
}

/** What /status, /healthz and AdminService.GetStatus report, outside the object engine. */
export class ClusterStatus implements ClusterAdmin {
  constructor(private readonly deps: ClusterStatusDeps) {}

  async status(): Promise<ClusterStatusView> {
    const { catalogue, directory, presence, cache, scheduler } = this.deps;
    let queuesError: string | undefined;
    const [tiers, queues] = await Promise.all([
      catalogue.tierTotals(),
      scheduler.queueStatus().catch((e: Error) => {
        queuesError = e.message;
        return [];
      }),
    ]);
    return {
      ...(queuesError ? { queuesError } : {}),
      nodes: directory.all().map((n) => ({
        id: n.id,
        kind: n.kind,
        address: n.address,
        live: n.live,
        heartbeatAtMs: n.heartbeatAtMs,
        usedBytes: n.usedBytes,
      })),
      tiers,
      queues,
      coordinators: [{ id: presence.id, self: true }, ...presence.others().map((id) => ({ id, self: false }))],
      readCache: { enabled: cache.enabled, rows: cache.size },
      ...(this.deps.transitions ? { transitions: this.deps.transitions.transitions() } : {}),
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
