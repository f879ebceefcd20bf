import { CostBoundedRead, scanCostMs, type ReadCost } from "../../catalogue/cost-bounded-read";
import type { RehomeQueries, RepairBacklog } from "../../catalogue/rehome-queries";
import { MIN_COST_BYTES } from "../jobs/repair-throttle";

/** A backlog read, and the lost nodes it was read for. */
export interface BacklogRead {
  lostNodes: string[];
  backlog: RepairBacklog;
}

/**
 * The repair backlog is a scan of every live hot version: 0.85-1.02 s over 1,000,000 versions here
 * (2026-12-08), and the console polls /status every 5 s. Read at most once a second, and, priced by
 * the versions it read (scanCostMs), once those were 250,000 or more, again only after 20 times
 * that cost (cost-bounded-read.ts).
 */
export const BACKLOG_COST: ReadCost<BacklogRead> = {
  costFactor: 20,
  freeBelowMs: 250,
  keepAtLeastMs: 1000,
  costMs: (read) => scanCostMs(read.backlog.scanned),
};

/** What is left to repair cluster-wide (/status "repair"), read as often as its cost allows, and again at once when the lost nodes change. */
export class RepairBacklogRead {
  private readonly read: CostBoundedRead<BacklogRead>;

  constructor(
    queries: Pick<RehomeQueries, "repairBacklog">,
    private readonly lost: () => string[],
    replicas: number,
    cost = BACKLOG_COST,
  ) {
    this.read = new CostBoundedRead(async () => {
      const lostNodes = lost();
      return { lostNodes, backlog: await queries.repairBacklog(replicas, lostNodes, MIN_COST_BYTES) };
    }, cost);
  }

  async get(): Promise<BacklogRead> {
    const read = await this.read.get();
    if (read.lostNodes.join() === this.lost().join()) return read;
    this.read.forget();
    return this.read.get();
  }
}
