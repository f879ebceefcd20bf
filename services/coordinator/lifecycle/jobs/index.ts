import { cleanup } from "./cleanup";
import { demote } from "./demote";
import { promote } from "./promote";
import { purge } from "./purge";
import { reconcile } from "./reconcile";
import { repair } from "./repair";
import { trash } from "./trash";

/**
 * Every lifecycle job. Lifecycle runs one BullMQ worker per entry and queues.ts makes one queue
 * each; /status lists the queues in this order.
 *
 * The transitions (all but reconcile) share one rule: every handler re-reads the catalogue and acts
 * only if the version is still where the job expected it; the order is always copy, verify, commit
 * (a conditional UPDATE that loses cleanly to a concurrent read, delete or undelete), then remove
 * the old copies. A crash at any point leaves the version readable from the tier the catalogue
 * names, and old copies listed in `cleanup` for the cleanup job.
 */
export const JOBS = [demote, promote, trash, purge, cleanup, repair, reconcile] as const;

export type JobName = (typeof JOBS)[number]["name"];
