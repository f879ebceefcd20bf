import { claimTargets, dropCopies, moveAndClean } from "./cleanup";
import type { VersionRow } from "../../model/version-row";
import { rowJob, type JobContext } from "./job";

/** Deleted or overwritten: the bytes move to the delete node until the purge. */
export const trash = rowJob("trash", 8, trashRow);

async function trashRow(v: VersionRow | null, ctx: JobContext): Promise<string> {
  if (!v || v.state !== "trash") return "not in the trash";
  if (v.tier === "trash") return "already moved";
  const { versionId } = v;
  const trashNode = ctx.nodes.liveOfKind("delete");
  await claimTargets(ctx, v, [trashNode.id]);
  await ctx.copier.copy(v, v.replicas, [trashNode.id], 1, {
    bucket: v.bucket,
    key: v.key,
    versionId,
    size: String(v.size),
    sha256: v.sha256,
    etag: v.etag,
    contentType: v.contentType,
    reason: v.reason ?? "deleted",
    deletedAtMs: String(v.deletedMs),
    purgeAtMs: String(v.purgeMs),
  });
  const moved = await moveAndClean(
    ctx,
    versionId,
    { state: "trash", tier: v.tier, gen: v.gen },
    { tier: "trash", replicas: [trashNode.id] },
    v.replicas,
  );
  if (!moved) return dropCopies(ctx, versionId, [trashNode.id], "trash move lost to an undelete or a purge");
  ctx.log.debug({ version: versionId, key: v.key }, "moved to the trash");
  return "moved to the trash";
}
