import { ErrorCode, MiniS3Error } from "../../../common/errors";
import type { TierMove } from "../../catalogue/versions-sql";
import type { LockHeld } from "../../../rpc/client/node-client";
import type { VersionRow } from "../../model/version-row";
import type { JobContext, LifecycleJob } from "./job";

/** How long after a transition a failed delete of its old copies is tried again. */
const RETRY_AFTER_MS = 5000;

/**
 * Removes copies a transition left behind (never one the catalogue points at: see
 * Catalogue.cleanCopies). Copies it cannot remove yet make it fail, so BullMQ retries it a bounded
 * number of times with exponential backoff (JOB_OPTIONS), then the reconciler now and then; it used
 * to re-queue itself every 5 s forever for a node that never returns (review finding 10).
 */
export const cleanup: LifecycleJob<"cleanup"> = {
  name: "cleanup",
  concurrency: 4,
  async process({ versionId }, ctx) {
    const v = await ctx.catalogue.version(versionId);
    if (!v || !v.cleanup.length) return "nothing to clean";
    const left = await cleanCopies(ctx, versionId, []);
    if (left.length) throw new MiniS3Error(ErrorCode.NodeUnavailable, `copies of ${versionId} still to delete on ${left.join(", ")}`);
    return "cleaned";
  },
};

/**
 * Every transition ends here, once its commit added the old copies to the version's pending ones:
 * they go now (in the due-row poller, after the move returns: ctx.cleanupBacklog, or later, paged
 * back from the catalogue when the backlog is full), and those that cannot are left to the cleanup
 * job. `cleaning`: deletes that began with the commit (moveAndClean; they run whether or not the
 * backlog has room, and what they leave pending is paged back like any row's); else a cleanup
 * starts here.
 */
export async function finishCleanup(ctx: JobContext, versionId: string, cleaning?: () => Promise<string[]>): Promise<void> {
  if (!ctx.cleanupBacklog) return cleanOrRetry(ctx, versionId, [], cleaning);
  ctx.cleanupBacklog.offer(versionId, () => cleanBehind(ctx, versionId, cleaning));
}

/** Deletes a version's pending copies after its move returned; never throws (what fails goes to the cleanup job). */
export function cleanBehind(ctx: JobContext, versionId: string, cleaning?: () => Promise<string[]>): Promise<void> {
  return cleanOrRetry(ctx, versionId, [], cleaning).catch((e) => {
    // the row still lists the copies: the cleanup job (or the reconciler) deletes them
    ctx.log.debug({ version: versionId, err: e }, "old copies not deleted yet");
    ctx.scheduler.add(cleanup.name, versionId, Date.now() + RETRY_AFTER_MS);
  });
}

/**
 * A transition's conditional move (Catalogue.moveTierAndClean: the old copies' cleanup begins in
 * the commit's round trip), then finishCleanup. Answers whether it moved.
 */
export async function moveAndClean(
  ctx: JobContext,
  versionId: string,
  expect: TierMove["expect"],
  to: TierMove["to"],
  oldCopies: string[],
): Promise<boolean> {
  const { moved, clean } = await ctx.catalogue.moveTierAndClean(versionId, expect, to, oldCopies, (ids, stillHeld) =>
    removeCopies(ctx, versionId, ids, stillHeld),
  );
  if (moved) await finishCleanup(ctx, versionId, clean);
  return moved;
}

/** A transition lost its race: remove the copies it made, unless the catalogue now uses them. */
export async function dropCopies(ctx: JobContext, versionId: string, copies: string[], why: string): Promise<string> {
  await cleanOrRetry(ctx, versionId, copies);
  return why;
}

/** Cleans now (or hears how `cleaning` went); what is left goes to the cleanup job a little later. */
async function cleanOrRetry(
  ctx: JobContext,
  versionId: string,
  strays: string[],
  cleaning = () => cleanCopies(ctx, versionId, strays),
): Promise<void> {
  const left = await cleaning();
  if (left.length) ctx.scheduler.add(cleanup.name, versionId, Date.now() + RETRY_AFTER_MS);
}

/**
 * Before a job writes copies to `targets`: those its row lists as left over are taken off that
 * list first, so no cleanup deletes them once written (review finding 14).
 */
export async function claimTargets(ctx: JobContext, v: Pick<VersionRow, "versionId" | "cleanup">, targets: string[]): Promise<void> {
  const pending = targets.filter((id) => v.cleanup.includes(id));
  if (pending.length) await ctx.catalogue.claimCopies(v.versionId, pending);
}

/** Deletes a version's pending copies and `strays` under its row lock. */
function cleanCopies(ctx: JobContext, versionId: string, strays: string[]): Promise<string[]> {
  return ctx.catalogue.cleanCopies(versionId, strays, (ids, stillHeld) => removeCopies(ctx, versionId, ids, stillHeld));
}

/**
 * Deletes copies; answers the nodes that still hold one. A node retired for good took its copies
 * with it (review finding 10: they were waited for forever). A node that is down is not asked (a
 * cleanup holds the row lock while the others answer): its copies stay. `stillHeld`: the caller's
 * row lock, proven before a node's fenced delete is asked again (without it, never asked again).
 */
export async function removeCopies(ctx: JobContext, versionId: string, nodeIds: string[], stillHeld?: LockHeld): Promise<string[]> {
  const asked = nodeIds.filter((id) => ctx.nodes.isLive(id));
  const away = nodeIds.filter((id) => !ctx.nodes.isLive(id) && !ctx.nodes.isRemoved(id));
  return [...away, ...(asked.length ? await ctx.copier.remove(versionId, asked, undefined, stillHeld) : [])];
}
