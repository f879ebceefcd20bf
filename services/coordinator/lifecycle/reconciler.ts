import type { Logger } from "../../common/logger";
import type { Catalogue } from "../catalogue/catalogue";
import { CostBoundedRead } from "../catalogue/cost-bounded-read";
import type { VersionRow } from "../model/version-row";
import type { Scheduler } from "./scheduler";

const BATCH = 1000;

/**
 * The backstop scans (leftover copies, short replicas) read the table: no index has `cleanup`, and
 * the short ones are found among every live hot row. Over 1,000,000 versions they took 0.75-0.93 s
 * and 1.96-2.06 s here (2026-12-08), every reconcile interval (30 s). Scans that took a second or
 * more (their answers do not say how many rows they read, so by their time, and high enough that a
 * busy machine does not slow a small catalogue's past it) wait 20 times that before the next: at
 * most ~5 % of MariaDB's time per coordinator. A lost node's copies are looked for every run.
 */
const BACKSTOP_COST = { costFactor: 20, freeBelowMs: 1000 };

/**
 * MySQL is the truth, Redis the fast path: the reconciler finds in the catalogue the leftover
 * copies and short or lost replicas that have no job, and queues one. Job ids make a job that
 * already exists a no-op, so it can run anywhere, any number of times. Demotions, trash moves and
 * purges are not its: the due-row poller (due-poller.ts) finds those itself as they come due.
 */
export class Reconciler {
  constructor(
    private readonly catalogue: Catalogue,
    private readonly scheduler: Scheduler,
    private readonly replicas: number,
    private readonly log: Logger,
    /** Storage nodes down long enough that the copies they hold must be made again elsewhere. */
    private readonly lostNodes: () => string[],
  ) {
    this.backstops = new CostBoundedRead(async () => {
      const cleanup = await this.catalogue.lifecycle.withLeftoverCopies(BATCH);
      const short = await this.catalogue.lifecycle.underReplicated(this.replicas, BATCH);
      return { cleanup, short };
    }, BACKSTOP_COST);
  }

  private readonly backstops: CostBoundedRead<{ cleanup: VersionRow[]; short: VersionRow[] }>;

  async run(): Promise<Record<string, number>> {
    const counts = { cleanup: 0, repair: 0 };
    const backstops = this.backstops.isDue() ? await this.backstops.get() : { cleanup: [], short: [] };
    for (const v of backstops.cleanup) {
      this.scheduler.add("cleanup", v.versionId);
      counts.cleanup++;
    }

    for (const node of this.lostNodes()) {
      const held = await this.catalogue.lifecycle.hotOnNode(node, BATCH);
      for (const v of held) {
        this.scheduler.add("repair", v.versionId);
        counts.repair++;
      }
    }
    for (const v of backstops.short) {
      this.scheduler.add("repair", v.versionId);
      counts.repair++;
    }

    if (counts.cleanup + counts.repair > 0) this.log.debug({ counts }, "reconciler queued transitions");
    return counts;
  }
}
