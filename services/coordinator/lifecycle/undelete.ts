import { NotFoundError } from "../../common/errors";
import { bytesOutOfReach } from "../cluster/node-pool";
import { toObjectView, type ObjectView } from "../model/object-view";
import type { VersionRow } from "../model/version-row";
import { claimTargets, cleanBehind, dropCopies } from "./jobs/cleanup";
import type { JobContext } from "./jobs/job";
import { trash } from "./jobs/trash";

/**
 * The most recent restorable version of a key becomes visible again, as a hot object. With
 * `onlyVersion` (S3's removal of a delete marker), only that version, only if it was deleted (not
 * replaced), is the key's most recent deletion, and the key has no visible version when the restore
 * holds the key's lock; NoSuchKey otherwise, and nothing changes.
 */
export async function undelete(ctx: JobContext, bucket: string, key: string, onlyVersion?: string): Promise<ObjectView> {
  // A trash move may commit while we copy; then the bytes moved and we try again from there.
  for (let attempt = 0; attempt < 3; attempt++) {
    const t = await ctx.catalogue.latestTrash(bucket, key);
    if (!t) break;
    if (onlyVersion !== undefined && (t.versionId !== onlyVersion || t.reason !== "deleted")) {
      throw new NotFoundError(`${onlyVersion} is not the most recent deletion of ${bucket}/${key}`);
    }
    let replicas = t.replicas;
    let leftovers: string[] = [];
    if (t.tier !== "hot") {
      const targets = ctx.placement.targets(bucket, key);
      await claimTargets(ctx, t, targets);
      // Its only copy is on the delete (or backup) node: one restarting is waited for, as a cold read
      // waits (issue 13; every undelete answered 503 while the delete node restarted, ~2 s).
      replicas = await ctx.nodes.asNodesReturn(() => ctx.copier.copy(t, t.replicas, targets, ctx.opts.writeQuorum), bytesOutOfReach);
      leftovers = t.replicas;
    }
    const now = await ctx.catalogue.clock.now();
    const { restored, replaced, keyIsLive } = await ctx.catalogue.restore(
      t,
      replicas,
      leftovers,
      now,
      ctx.requestId,
      onlyVersion !== undefined,
    );
    if (!restored) {
      if (t.tier !== "hot") await dropCopies(ctx, t.versionId, replicas, "undelete lost a race");
      if (keyIsLive) throw new NotFoundError(`${bucket}/${key} has a visible version: ${onlyVersion} is not its latest entry`);
      continue;
    }
    if (replaced) ctx.scheduler.add(trash.name, replaced);
    // Restored: its old copies' deletes failing (MariaDB away a moment) is the cleanup job's (the row
    // lists them), not a failed undelete, whose retry would bring back the version deleted before.
    if (leftovers.length) await cleanBehind(ctx, t.versionId);
    ctx.log.info({ version: t.versionId, key }, "undeleted");
    return toObjectView((await ctx.catalogue.version(t.versionId)) as VersionRow);
  }
  throw new NotFoundError(`nothing to undelete for ${bucket}/${key}`);
}
