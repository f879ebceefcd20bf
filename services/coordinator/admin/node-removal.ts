import { performance } from "node:perf_hooks";
import type { Logger } from "../../common/logger";
import type { NodeRecord } from "../../membership/node-record";
import type { LifecycleQueries } from "../catalogue/lifecycle-queries";
import type { NodeDirectory } from "../cluster/node-directory";

export interface NodeRemovalDeps {
  readonly directory: Pick<NodeDirectory, "all" | "find" | "drain" | "finishDrain" | "retire" | "heartbeating">;
  readonly catalogue: { readonly lifecycle: Pick<LifecycleQueries, "countOnNode"> };
  readonly log: Logger;
}

export interface NodeRemovalOptions {
  /** MINIS3_REPLICAS: a removal may not leave fewer storage nodes. */
  replicas: number;
  /** How often each draining node is looked at (MINIS3_RECONCILE_INTERVAL: the repairs come at that pace too). */
  intervalMs: number;
  /**
   * A node is removed only once this coordinator has seen it draining this long with nothing on it
   * (2 × MINIS3_NODE_DOWN_AFTER): a write that chose it before its coordinator's directory saw the
   * drain (refreshed every heartbeat interval) has landed by then. One that lands later still is
   * repaired away, as the copies of a removed node count as gone.
   */
  graceMs: number;
}

/** A node being taken out, and the versions that still list it. */
export interface Removal {
  node: NodeRecord;
  versionsLeft: number;
}

/**
 * Takes nodes out of the cluster for good, their copies made elsewhere first: a storage node goes to
 * `draining` (out of placement; reads may still use it), repair copies every version it holds to the
 * nodes that stay (the reconciler queues them: NodeOutages.toEmpty; repair takes its copies as
 * sources that do not count towards R, or as lost if the node is down), and once no version lists it,
 * it becomes `removed` and may be stopped. Every coordinator watches the draining nodes; the step to
 * `removed` is one conditional UPDATE, so two doing it at once do no harm.
 */
export class NodeRemoval {
  /** When this coordinator first saw each draining node (monotonic). */
  private readonly drainingSince = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(
    private readonly deps: NodeRemovalDeps,
    private readonly opts: NodeRemovalOptions,
    private readonly now: () => number = () => performance.now(),
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Starts taking a node out (AdminService.RemoveNode, POST /admin/nodes/{id}/remove); repeating it
   * changes nothing. A storage node drains, live or down (then its copies come from the others). A
   * backup or delete node holds the only copy of its tier, so it is never drained: once down, it is
   * written off (retire) as POST /nodes/retire does; while live, the request is refused.
   */
  async remove(id: string): Promise<Removal> {
    const n = await this.deps.directory.find(id);
    if (n.kind !== "storage" && n.state !== "removed" && !this.deps.directory.heartbeating(id)) {
      return { node: await this.deps.directory.retire(id), versionsLeft: 0 };
    }
    const node = await this.deps.directory.drain(id, this.opts.replicas);
    return { node, versionsLeft: await this.versionsLeft(node) };
  }

  /** Versions that still list the node (0 unless it is draining: a removed node's copies count as gone). */
  async versionsLeft(n: NodeRecord): Promise<number> {
    return n.state === "draining" ? this.deps.catalogue.lifecycle.countOnNode(n.id) : 0;
  }

  /** One look at every draining node: removed once nothing has listed it for the grace time. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const draining = this.deps.directory.all().filter((n) => n.state === "draining");
      for (const id of this.drainingSince.keys()) if (!draining.some((n) => n.id === id)) this.drainingSince.delete(id);
      for (const n of draining) {
        const since = this.drainingSince.get(n.id) ?? this.drainingSince.set(n.id, this.now()).get(n.id)!;
        const left = await this.deps.catalogue.lifecycle.countOnNode(n.id);
        if (left > 0) {
          this.deps.log.debug({ node: n.id, versionsLeft: left }, "draining");
        } else if (this.now() - since >= this.opts.graceMs) {
          await this.deps.directory.finishDrain(n.id);
          this.drainingSince.delete(n.id);
        }
      }
    } catch (e) {
      this.deps.log.warn({ err: e }, "node removal check failed; trying again next interval");
    } finally {
      this.ticking = false;
    }
  }
}
