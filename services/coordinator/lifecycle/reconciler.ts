import type { Logger } from "../../common/logger";
import type { Catalogue } from "../catalogue/catalogue";
import type { Scheduler } from "./scheduler";

const BATCH = 1000;

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
  ) {}

  async run(): Promise<Record<string, number>> {
    const counts = { cleanup: 0, repair: 0 };
    const cleanup = await this.catalogue.lifecycle.withLeftoverCopies(BATCH);
    for (const v of cleanup) {
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
    const short = await this.catalogue.lifecycle.underReplicated(this.replicas, BATCH);
    for (const v of short) {
      this.scheduler.add("repair", v.versionId);
      counts.repair++;
    }

    if (counts.cleanup + counts.repair > 0) this.log.debug({ counts }, "reconciler queued transitions");
    return counts;
  }
}
