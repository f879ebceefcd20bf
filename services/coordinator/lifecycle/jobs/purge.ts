import type { LifecycleJob } from "./job";

/** After the trash TTL: the bytes go from every node, then the version from the catalogue. */
export const purge: LifecycleJob<"purge"> = {
  name: "purge",
  concurrency: 8,
  async process({ versionId }, ctx) {
    const v = await ctx.catalogue.version(versionId);
    if (!v) return "already purged";
    if (v.state !== "trash") return "restored";
    // due on the catalogue's clock; the queue's delay is counted on ours
    const early = (v.purgeMs ?? 0) - (await ctx.catalogue.clock.now());
    if (early > 0) {
      ctx.scheduler.add(purge.name, versionId, Date.now() + early, v.purgeMs!);
      return "not due";
    }
    const failed = await ctx.copier.remove(versionId, [...new Set([...v.replicas, ...v.cleanup])]);
    if (failed.length) throw new Error(`could not delete the copies on ${failed.join(", ")}`);
    await ctx.catalogue.forget(versionId);
    ctx.log.info({ version: versionId, key: v.key }, "purged");
    return "purged";
  },
};
