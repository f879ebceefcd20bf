import { ErrorCode, MiniS3Error } from "../../../common/errors";
import { removeCopies } from "./cleanup";
import type { VersionRow } from "../../model/version-row";
import { rowJob, type JobContext } from "./job";

/**
 * After the trash TTL: the version is marked `purging` (so no undelete can restore it any more),
 * then its bytes go from every node, then the row. Deleting the bytes first once let an undelete
 * in between restore a version with no bytes (review finding 13).
 */
export const purge = rowJob("purge", 8, purgeRow);

/** When a purge our clock reading found due, but MariaDB's clock not yet, is tried again. */
const NOT_DUE_RETRY_MS = 1000;

/**
 * A purge's fenced delete may be asked again without a lock to prove: no job writes a copy of a
 * version marked 'purging' (repair and moves take live or trashed rows, an undelete a trashed one).
 */
const PURGING_IS_FINAL = async (): Promise<void> => undefined;

async function purgeRow(read: VersionRow | null, ctx: JobContext): Promise<string> {
  if (!read) return "already purged";
  const { versionId } = read;
  let v: VersionRow | null = read;
  // A mark lost to a change (a trash move committing) is tried again on the row as it is now.
  for (let attempt = 0; v?.state === "trash" && attempt < 3; attempt++) {
    // due on the catalogue's clock; the queue's delay is counted on ours
    const now = await ctx.catalogue.clock.now();
    const early = (v.purgeMs ?? 0) - now;
    if (early > 0) {
      ctx.scheduler.add(purge.name, versionId, Date.now() + early, v.purgeMs!);
      return "not due";
    }
    if (await ctx.catalogue.markPurging(v)) v = { ...v, state: "purging" };
    else {
      const seen = v;
      v = await ctx.catalogue.version(versionId);
      // Unchanged: not due on MariaDB's clock yet (the mark's), which our reading of it ran ahead of.
      if (v?.state === "trash" && v.gen === seen.gen) {
        ctx.scheduler.add(purge.name, versionId, Date.now() + NOT_DUE_RETRY_MS, v.purgeMs!);
        return "not due";
      }
    }
  }
  if (!v) return "already purged";
  if (v.state === "live") return "restored";
  if (v.state !== "purging") throw new MiniS3Error(ErrorCode.Internal, `${versionId} kept changing; the purge will try again`);
  const failed = await removeCopies(ctx, versionId, [...new Set([...v.replicas, ...v.cleanup])], PURGING_IS_FINAL);
  if (failed.length) throw new MiniS3Error(ErrorCode.NodeUnavailable, `could not delete the copies on ${failed.join(", ")}`);
  await ctx.catalogue.forget(versionId);
  ctx.log.debug({ version: versionId, key: v.key }, "purged");
  return "purged";
}
