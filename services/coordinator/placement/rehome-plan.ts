/**
 * Where a version's copies should be, and what moving them there takes. `home` is the first R live
 * nodes of the key's preference list (where a write would put it now); `replicas` is where the
 * catalogue says it is. A copy on a node that is not home is a stray: a hint written while its home
 * node was down (handoff), or on the node that held the key before a node was added (rebalance).
 */
export interface RehomePlan {
  /** Home nodes that lack a copy, best first: copied to, then verified. */
  add: string[];
  /** Strays, worst first: deleted only once the new copies are committed in their place and the kept ones proven. */
  drop: string[];
}

/**
 * The move for one version, or null when it is at home or is not rehome's to move. Rehome moves
 * only versions whose every listed copy is on a live node and that list at least R: a version with
 * a copy on a node that is down (not yet lost) waits for it, and a short one is repair's. A stray is
 * dropped only as a new home copy replaces it, or when the version lists more than R, so the list
 * never falls below R.
 */
export function rehomePlan(
  replicas: readonly string[],
  home: readonly string[],
  r: number,
  isLive: (id: string) => boolean,
): RehomePlan | null {
  if (replicas.length < r || home.length < r || !replicas.every(isLive)) return null;
  const add = home.filter((id) => !replicas.includes(id));
  const strays = replicas.filter((id) => !home.includes(id));
  const surplus = replicas.length - r;
  const drop = strays.slice(0, Math.min(strays.length, add.length + surplus));
  return add.length || drop.length ? { add, drop } : null;
}

/**
 * How many strays may go once `added` home copies are verified: each replaces one, and a surplus
 * over R goes as well; never below R.
 */
export function droppable(plan: RehomePlan, replicas: number, added: number, r: number): string[] {
  return plan.drop.slice(0, Math.max(0, Math.min(plan.drop.length, replicas + added - r)));
}

/** A version listed away from its home: any copy not on the first R nodes of its preference list. */
export function awayFromHome(replicas: readonly string[], home: readonly string[]): boolean {
  return replicas.some((id) => !home.includes(id));
}
