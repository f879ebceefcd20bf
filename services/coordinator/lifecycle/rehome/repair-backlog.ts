import { CostBoundedRead } from "../../catalogue/cost-bounded-read";
import type { RehomeQueries, RepairBacklog } from "../../catalogue/rehome-queries";
import { MIN_COST_BYTES } from "../jobs/repair-throttle";

/**
 * The repair backlog is a scan of every live hot version: 0.85-1.02 s over 1,000,000 versions here
 * (2026-12-08), and the console polls /status every 5 s. Read at most once a second, and once a read
 * took 250 ms or more, again only after 20 times its length (cost-bounded-read.ts).
 */
const BACKLOG_COST = { costFactor: 20, freeBelowMs: 250, keepAtLeastMs: 1000 };

/** What is left to repair cluster-wide (/status "repair"), read as often as its cost allows, and again at once when the lost nodes change. */
export class RepairBacklogRead {
  private readonly read: CostBoundedRead<{ lostNodes: string[]; backlog: RepairBacklog }>;

  constructor(
    queries: Pick<RehomeQueries, "repairBacklog">,
    private readonly lost: () => string[],
    replicas: number,
  ) {
    this.read = new CostBoundedRead(async () => {
      const lostNodes = lost();
      return { lostNodes, backlog: await queries.repairBacklog(replicas, lostNodes, MIN_COST_BYTES) };
    }, BACKLOG_COST);
  }

  async get(): Promise<{ lostNodes: string[]; backlog: RepairBacklog }> {
    const read = await this.read.get();
    if (read.lostNodes.join() === this.lost().join()) return read;
    this.read.forget();
    return this.read.get();
  }
}
