import type { JobContext, LifecycleJob } from "./job";

/** Removes copies a transition left behind (never one the catalogue still points at). */
export const cleanup: LifecycleJob<"cleanup"> = {
  name: "cleanup",
  concurrency: 4,
  async process({ versionId }, ctx) {
    const v = await ctx.catalogue.version(versionId);
    if (!v || !v.cleanup.length) return "nothing to clean";
    await finishCleanup(
      ctx,
      versionId,
      v.cleanup.filter((id) => !v.replicas.includes(id)),
    );
    return "cleaned";
  },
};

/**
 * Every transition ends here: the old copies go, and those that could not be removed are listed
 * in the catalogue's `cleanup` for the cleanup job.
 */
export async function finishCleanup(ctx: JobContext, versionId: string, nodeIds: string[]): Promise<void> {
  const failed = await ctx.copier.remove(versionId, nodeIds);
  await ctx.catalogue.setCleanup(versionId, failed);
  if (failed.length) ctx.scheduler.add(cleanup.name, versionId, Date.now() + 5000, Date.now());
}

/** A transition lost its race: remove the copies it made, unless the catalogue now uses them. */
export async function dropCopies(ctx: JobContext, versionId: string, copies: string[], why: string): Promise<string> {
  const now = await ctx.catalogue.version(versionId);
  const inUse = new Set(now ? [...now.replicas] : []);
  await ctx.copier.remove(
    versionId,
    copies.filter((id) => !inUse.has(id)),
  );
  return why;
}
