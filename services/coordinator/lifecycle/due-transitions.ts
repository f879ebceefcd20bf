import { DUE_SCANS } from "../catalogue/lifecycle-queries";
import type { DueTransition } from "./due-poller";
import { demote } from "./jobs/demote";
import type { JobContext } from "./jobs/job";
import { purge } from "./jobs/purge";
import { trash } from "./jobs/trash";

// The transitions that come due by time, as the due-row poller finds them (scans: DUE_SCANS).

/**
 * Demotion is due on this process's wall clock (access times are written on it: ARCHITECTURE.md
 * "one clock"); trash moves and purges on the catalogue's.
 */
export function dueTransitions(ctx: JobContext, trashTtlMs: number): DueTransition[] {
  const ttl = ctx.opts.hotTtlMs;
  const clock = ctx.catalogue.clock;
  const wall = async () => Date.now();
  const catalogueNow = () => clock.now();
  return [
    {
      name: demote.name,
      job: demote,
      front: DUE_SCANS.hot,
      sweep: [DUE_SCANS.hot],
      dueBy: async () => Date.now() - ttl,
      now: wall,
      dueAt: (v) => v.accessedMs + ttl,
      columnDue: (accessed) => accessed + ttl,
      lookbackMs: 0,
      moved: ["demoted"],
    },
    {
      name: trash.name,
      job: trash,
      front: DUE_SCANS.trashByDelete,
      // The front follows new deletes only; older trash still on hot or cold (a restart, a delete
      // node that was down) is the sweep's, by the tier index, so no walk reads the moved trash.
      sweep: [DUE_SCANS.trashOnHot, DUE_SCANS.trashOnCold],
      sweepBehindFront: true,
      initialCursor: async () => ({ at: (await clock.now()) + trashTtlMs - 60_000, versionId: "" }),
      dueBy: async () => Number.MAX_SAFE_INTEGER,
      now: catalogueNow,
      dueAt: (v) => v.deletedMs ?? 0,
      lookbackMs: 1000,
      moved: ["moved to the trash"],
    },
    {
      name: purge.name,
      job: purge,
      front: DUE_SCANS.purgeable,
      // A purge that began and stopped half way (marked `purging`) is finished by the sweep.
      sweep: [DUE_SCANS.purgeable, DUE_SCANS.purging],
      dueBy: catalogueNow,
      now: catalogueNow,
      dueAt: (v) => v.purgeMs ?? 0,
      columnDue: (purgeMs) => purgeMs,
      lookbackMs: 0,
      moved: ["purged"],
    },
  ];
}
