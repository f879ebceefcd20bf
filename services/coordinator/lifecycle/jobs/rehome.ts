import { ErrorCode, MiniS3Error } from "../../../common/errors";
import type { VersionRow } from "../../model/version-row";
import { droppable, rehomePlan } from "../../placement/rehome-plan";
import { claimTargets, dropCopies, finishCleanup } from "./cleanup";
import { checkCopy } from "./copy-check";
import type { JobContext } from "./job";
import { repair } from "./repair";

/** What one rehome did: moved (with the bytes copied), or why not. */
export type RehomeOutcome = { moved: true; bytes: number } | { moved: false; why: string };

/**
 * Moves one live hot version's copies to where the ring says they belong (rehome-plan.ts): copy to
 * each home node that lacks one (paced by MINIS3_REPAIR_RATE), check each new copy by content
 * (VerifyBlob: the node re-reads it against its sha256), commit the new list with a conditional
 * update on the generation read here, and only then delete the strays, once the copies that stay
 * hold R proven ones (keptProven). So the version never lists fewer than R copies and no copy goes
 * before its replacement is proven; an overwrite, delete, demotion or repair in between wins the
 * commit and the new copies are removed instead. The same mover serves handoff (a hint comes home)
 * and rebalance (a new node takes its keys).
 */
export async function rehome(ctx: JobContext, versionId: string, signal?: AbortSignal): Promise<RehomeOutcome> {
  const v = await ctx.catalogue.version(versionId);
  if (!v || v.state !== "live" || v.tier !== "hot") return { moved: false, why: "not hot" };
  const r = ctx.opts.replicas;
  const plan = rehomePlan(v.replicas, ctx.placement.targets(v.bucket, v.key, r), r, (id) => ctx.nodes.isLive(id));
  if (!plan) return { moved: false, why: "at home, or not rehome's" };
  let added: string[] = [];
  let bad: string[] = [];
  if (plan.add.length) {
    await claimTargets(ctx, v, plan.add);
    await ctx.throttle.take(v.size, plan.add.length, signal);
    const written = await ctx.copier.copy(v, v.replicas, plan.add, 1).catch(() => [] as string[]);
    const checks = await Promise.all(written.map((id) => checkCopy(ctx, v, id)));
    added = written.filter((_, i) => checks[i] === "good");
    bad = written.filter((_, i) => checks[i] !== "good");
    ctx.throttle.copied(v.size * written.length);
    if (!added.length) {
      await dropCopies(ctx, versionId, bad, "no new copy proved right");
      throw new MiniS3Error(ErrorCode.NodeUnavailable, `no copy of ${versionId} reached ${plan.add.join(", ")} and proved right`);
    }
  }
  const candidates = droppable(plan, v.replicas.length, added.length, r);
  // A stray goes only once the copies that stay are proven as the new ones are: a listed copy whose
  // file is gone or rotten would otherwise leave fewer real copies than R, perhaps none.
  const dropped = candidates.length && (await keptProven(ctx, v, candidates, added.length, r)) ? candidates : [];
  if (!added.length && !dropped.length) return { moved: false, why: "a copy that stays is not proven" };
  const replicas = [...v.replicas.filter((id) => !dropped.includes(id)), ...added];
  const ok = await ctx.catalogue.moveTier(versionId, { state: "live", tier: "hot", gen: v.gen }, { tier: "hot", replicas }, dropped);
  // Copies that failed their check go after the commit: removing a copy the row does not list
  // moves the generation on, which would make this commit lose.
  if (!ok) return { moved: false, why: await dropCopies(ctx, versionId, [...added, ...bad], "lost to a concurrent change") };
  if (bad.length) await dropCopies(ctx, versionId, bad, "a new copy failed its check");
  await finishCleanup(ctx, versionId);
  ctx.log.debug({ version: versionId, from: v.replicas, to: replicas }, "rehomed");
  return { moved: true, bytes: v.size * added.length };
}

/**
 * Whether the copies listed after `dropping` goes, with the `added` new ones (checked already), hold
 * at least R that their nodes re-read against the catalogue's sha256 (VerifyBlob, as repair checks
 * its sources). A kept copy found missing or bad queues a repair, which replaces it; an unreachable
 * one is only waited for.
 */
async function keptProven(ctx: JobContext, v: VersionRow, dropping: string[], added: number, r: number): Promise<boolean> {
  const checks = await Promise.all(v.replicas.filter((id) => !dropping.includes(id)).map((id) => checkCopy(ctx, v, id)));
  if (checks.includes("bad")) ctx.scheduler.add(repair.name, v.versionId);
  return checks.filter((c) => c === "good").length + added >= r;
}
