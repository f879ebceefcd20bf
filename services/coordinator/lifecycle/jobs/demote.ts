import { claimTargets, dropCopies, moveAndClean } from "./cleanup";
import type { VersionRow } from "../../model/version-row";
import { rowJob, type JobContext } from "./job";

/** hot → cold, once the version has not been read for the hot TTL. */
export const demote = rowJob("demote", 4, demoteRow);

async function demoteRow(v: VersionRow | null, ctx: JobContext): Promise<string> {
  if (!v || v.state !== "live" || v.tier !== "hot") return "not hot";
  const { versionId } = v;
  const lastRead = Math.max(v.accessedMs, ctx.access.lastSeen(versionId) ?? 0);
  const due = lastRead + ctx.opts.hotTtlMs;
  if (Date.now() < due) {
    ctx.scheduler.add(demote.name, versionId, due, due);
    return "read since; rescheduled";
  }
  const backup = ctx.nodes.liveOfKind("backup");
  await claimTargets(ctx, v, [backup.id]);
  await ctx.copier.copy(v, v.replicas, [backup.id], 1, { bucket: v.bucket, key: v.key });
  const moved = await moveAndClean(
    ctx,
    versionId,
    { state: "live", tier: "hot", gen: v.gen, accessedMs: v.accessedMs },
    { tier: "cold", replicas: [backup.id] },
    v.replicas,
  );
  if (!moved) return dropCopies(ctx, versionId, [backup.id], "demotion lost to a read or delete");
  ctx.log.debug({ version: versionId, key: v.key, size: v.size }, "demoted to cold");
  return "demoted";
}
