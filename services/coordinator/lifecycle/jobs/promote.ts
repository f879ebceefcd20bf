import { claimTargets, dropCopies, moveAndClean } from "./cleanup";
import type { LifecycleJob } from "./job";

/** cold → hot, after a read of a cold version. */
export const promote: LifecycleJob<"promote"> = {
  name: "promote",
  concurrency: 4,
  async process({ versionId }, ctx) {
    const v = await ctx.catalogue.version(versionId);
    if (!v || v.state !== "live" || v.tier !== "cold") return "not cold";
    const targets = ctx.placement.targets(v.bucket, v.key);
    await claimTargets(ctx, v, targets);
    const copies = await ctx.copier.copy(v, v.replicas, targets, ctx.opts.writeQuorum);
    const now = Date.now();
    const moved = await moveAndClean(
      ctx,
      versionId,
      { state: "live", tier: "cold", gen: v.gen },
      { tier: "hot", replicas: copies, accessedMs: now },
      v.replicas,
    );
    if (!moved) return dropCopies(ctx, versionId, copies, "promotion lost to a delete");
    ctx.log.info({ version: versionId, key: v.key, size: v.size }, "promoted to hot");
    return "promoted";
  },
};
