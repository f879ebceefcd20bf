import { ErrorCode, MiniS3Error } from "../../../common/errors";
import type { VersionRow } from "../../model/version-row";
import { claimTargets, dropCopies, finishCleanup } from "./cleanup";
import { checkCopy } from "./copy-check";
import type { JobContext, LifecycleJob } from "./job";
import { copiesWanted, repairedReplicas, type CopyChecks } from "./repair-plan";

/** A deferred repair runs this much after the coordinator settles, so it does not find it a moment short. */
const SETTLE_MARGIN_MS = 1000;

/**
 * Brings a hot version back to the replica count: replaces copies that are verified bad or on a
 * lost node with verified new ones. It never lists fewer copies than it could not check; when it
 * has no verified source, or fewer live targets than it wants, it throws, and BullMQ tries again
 * later (with backoff; then the reconciler, which finds versions on lost nodes and short ones).
 */
export const repair: LifecycleJob<"repair"> = {
  name: "repair",
  concurrency: 2,
  async process({ versionId }, ctx) {
    // Until then this coordinator cannot tell a lost node from one that is starting (review finding 1).
    const waitMs = ctx.outages.settlesInMs();
    if (waitMs > 0) {
      const at = Date.now() + waitMs + SETTLE_MARGIN_MS;
      ctx.scheduler.add(repair.name, versionId, at, at);
      return "deferred: this coordinator has not watched the nodes for MINIS3_REPAIR_AFTER yet";
    }
    const v = await ctx.catalogue.version(versionId);
    if (!v || v.state !== "live" || v.tier !== "hot") return "not hot";
    const checks = await checkCopies(ctx, v);
    const wanted = copiesWanted(checks, ctx.opts.replicas);
    const sources = [...checks.good, ...(checks.leaving ?? [])];
    if (wanted > 0 && !sources.length)
      throw new MiniS3Error(ErrorCode.BytesUnreachable, `no verified copy of ${versionId} to repair from: ${JSON.stringify(checks)}`);
    // A node whose copy is bad may take the new one; one with an unchecked copy may not.
    const targets =
      wanted === 0
        ? []
        : ctx.placement
            .targets(v.bucket, v.key, Number.MAX_SAFE_INTEGER)
            .filter((id) => !v.replicas.includes(id) || checks.bad.includes(id))
            .slice(0, wanted);
    await claimTargets(ctx, v, targets);
    let added: string[] = [];
    if (targets.length) {
      // MINIS3_REPAIR_RATE: a node's worth of copies must not take the foreground's disks and links.
      await ctx.throttle.take(v.size, targets.length);
      added = await ctx.copier.copy(v, sources, targets, 1);
      ctx.throttle.copied(v.size * added.length);
    }
    const { replicas, dropped } = repairedReplicas(checks, added, ctx.opts.replicas);
    // A list that named a node twice is written back with each once, even with nothing to copy.
    if (added.length || dropped.length || v.listedTwice) {
      const ok = await ctx.catalogue.moveTier(versionId, { state: "live", tier: "hot", gen: v.gen }, { tier: "hot", replicas }, dropped);
      if (!ok) return dropCopies(ctx, versionId, added, "repair lost to a transition");
      await finishCleanup(ctx, versionId);
      ctx.log.info({ version: versionId, replicas, dropped }, "repaired");
    }
    if (added.length < wanted)
      throw new MiniS3Error(ErrorCode.NotEnoughNodes, `${versionId} is ${wanted - added.length} copies short: too few live storage nodes`);
    return added.length || dropped.length || v.listedTwice ? "repaired" : "healthy";
  },
};

/**
 * Has every node the version lists, at once, re-read and check its copy, except those lost (down
 * for MINIS3_REPAIR_AFTER). By content: a stat reads only the header, which stays right when the
 * bytes rot, so a corrupt copy once passed as healthy (review finding 3).
 */
async function checkCopies(ctx: JobContext, v: VersionRow): Promise<CopyChecks> {
  const lost = new Set(ctx.outages.lost());
  const verdicts = await Promise.all(
    // An unreachable copy's node may be restarting: it is kept, and waited for. A good copy on a node
    // being removed is a source that does not count towards R.
    v.replicas.map(async (id): Promise<keyof CopyChecks> => {
      if (lost.has(id)) return "lost";
      const verdict = await checkCopy(ctx, v, id);
      return verdict === "good" && ctx.nodes.isDraining(id) ? "leaving" : verdict;
    }),
  );
  const checks: Required<CopyChecks> = { good: [], bad: [], unreachable: [], lost: [], leaving: [] };
  v.replicas.forEach((id, i) => checks[verdicts[i]].push(id));
  return checks;
}
