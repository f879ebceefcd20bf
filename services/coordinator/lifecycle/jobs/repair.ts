import { dropCopies, finishCleanup } from "./cleanup";
import type { LifecycleJob } from "./job";

/** Brings a hot version back to the replica count: drops bad copies, adds new ones. */
export const repair: LifecycleJob<"repair"> = {
  name: "repair",
  concurrency: 2,
  async process({ versionId }, ctx) {
    const v = await ctx.catalogue.version(versionId);
    if (!v || v.state !== "live" || v.tier !== "hot") return "not hot";
    const lost = new Set(ctx.nodes.storageNodesDownLongerThan(ctx.opts.repairAfterMs));
    const good: string[] = [];
    for (const id of v.replicas) {
      if (lost.has(id)) continue;
      const meta = await ctx.nodes
        .client(id)
        .statBlob(versionId)
        .catch(() => undefined);
      // undefined: unreachable for now, keep it (it may come back); null: missing; else compare checksums.
      if (meta === undefined || (meta && meta.size === v.size && meta.sha256.toString("hex") === v.sha256)) good.push(id);
    }
    const wanted = ctx.opts.replicas - good.length;
    if (wanted <= 0 && good.length === v.replicas.length) return "healthy";
    const targets = ctx.placement
      .targets(v.bucket, v.key, Number.MAX_SAFE_INTEGER)
      .filter((id) => !good.includes(id))
      .slice(0, Math.max(0, wanted));
    const added = targets.length ? await ctx.copier.copy(v, good, targets, 1) : [];
    const replicas = [...good, ...added];
    const bad = v.replicas.filter((id) => !good.includes(id));
    const ok = await ctx.catalogue.moveTier(versionId, { state: "live", tier: "hot" }, { tier: "hot", replicas }, bad);
    if (!ok) return dropCopies(ctx, versionId, added, "repair lost to a transition");
    await finishCleanup(ctx, versionId, bad);
    ctx.log.info({ version: versionId, replicas }, "repaired");
    return "repaired";
  },
};
