import type { Logger } from "../../common/logger";
import type { Catalogue } from "../catalogue/catalogue";
import type { Scheduler } from "./scheduler";

const BATCH = 1000;

/**
 * MySQL is the truth, Redis the fast path: the reconciler finds in the catalogue every transition
 * that is due (or comes due before its next run) and queues a job for it. Job ids make a job that
 * already exists a no-op, so it can run anywhere, any number of times. This is also how demotions
 * and purges are queued at all: a delayed job per version only once it is close to due, so Redis
 * holds jobs for the next interval rather than one per object.
 */
export class Reconciler {
  constructor(
    private readonly catalogue: Catalogue,
    private readonly scheduler: Scheduler,
    private readonly hotTtlMs: number,
    private readonly intervalMs: number,
    private readonly replicas: number,
    private readonly log: Logger,
    /** Storage nodes down long enough that the copies they hold must be made again elsewhere. */
    private readonly lostNodes: () => string[],
  ) {}

  async run(): Promise<Record<string, number>> {
    // Access times are still written on this process's clock, so demotion is due on it too.
    const horizon = Date.now() + this.intervalMs;
    const counts = { demote: 0, trash: 0, purge: 0, cleanup: 0, repair: 0 };

    const demote = await this.catalogue.lifecycle.dueForDemotion(horizon - this.hotTtlMs, BATCH);
    for (const v of demote) {
      const due = v.accessedMs + this.hotTtlMs;
      this.scheduler.add("demote", v.versionId, due, due);
      counts.demote++;
    }
    const trash = await this.catalogue.lifecycle.trashToMove(BATCH);
    for (const v of trash) {
      this.scheduler.add("trash", v.versionId);
      counts.trash++;
    }
    // Purge times are on the catalogue's clock (a process's clock may run ahead: review finding 5);
    // the queue counts a job's delay on ours.
    const dbNow = await this.catalogue.clock.now();
    const purge = await this.catalogue.lifecycle.dueForPurge(dbNow + this.intervalMs, BATCH);
    for (const v of purge) {
      this.scheduler.add("purge", v.versionId, Date.now() + v.purgeMs! - dbNow, v.purgeMs!);
      counts.purge++;
    }
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

    if (counts.trash + counts.cleanup + counts.repair > 0) this.log.debug({ counts }, "reconciler queued transitions");
    return counts;
  }
}
