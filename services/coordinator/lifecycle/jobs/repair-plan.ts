/**
 * What repair found out about each copy a version lists: `good` answered with the right size and
 * sha256; `bad` answered that it is missing or different; `unreachable` did not answer (its node
 * may be restarting); `lost` was not asked, its node having been down for MINIS3_REPAIR_AFTER;
 * `leaving` is good, on a node being removed (draining): a source, but it does not count towards R.
 */
export interface CopyChecks {
  good: string[];
  bad: string[];
  unreachable: string[];
  lost: string[];
  leaving?: string[];
}

/**
 * New copies that bring the version back to `replicas`: lost and bad copies are made again,
 * unreachable ones are waited for (a node down less than MINIS3_REPAIR_AFTER keeps its share).
 */
export function copiesWanted(c: CopyChecks, replicas: number): number {
  return Math.max(0, replicas - c.good.length - c.unreachable.length);
}

/**
 * The replica list once the verified copies `added` exist, and the copies to delete. A copy leaves
 * the list only when it is verified bad or a verified copy replaces it: lost ones stay until good
 * and added copies reach `replicas` (fewer targets than wanted leave the rest listed, never fewer
 * copies than before), unreachable ones always stay. Committing only verified copies once deleted
 * every copy of every object when no node answered (correctness review, finding 1).
 */
export function repairedReplicas(c: CopyChecks, added: string[], replicas: number): { replicas: string[]; dropped: string[] } {
  // Copies on a draining node go the same way as lost ones, first kept (they are verified).
  const leaving = c.leaving ?? [];
  const short = Math.max(0, replicas - c.good.length - added.length);
  const keptLeaving = leaving.slice(0, short);
  const keptLost = c.lost.slice(0, short - keptLeaving.length);
  const list = [...new Set([...c.good, ...c.unreachable, ...keptLeaving, ...keptLost, ...added])];
  // A bad copy's node may have been chosen again as a target: its new copy stays.
  const dropped = [...c.bad, ...leaving.slice(keptLeaving.length), ...c.lost.slice(keptLost.length)].filter((id) => !list.includes(id));
  return { replicas: list, dropped };
}
