/** Who else is working: rows are shared out by a hash of the version id, or left to the leader. */
export interface Peers {
  readonly id: string;
  others(): readonly string[];
  /** The live coordinator (this one or another) that runs the group's due-row poller. */
  leader(): string;
}

/**
 * This coordinator's share of the versions, as of the last look at who is live: a hash of the
 * version id over the live coordinators in id order. While two disagree on who is live both may
 * take a version; every job's conditional commit still moves it once.
 */
export function shareOf(peers: Peers): (versionId: string) => boolean {
  const others = peers.others();
  if (!others.length) return () => true;
  const all = [peers.id, ...others].sort();
  const me = all.indexOf(peers.id);
  return (id) => hashOf(id) % all.length === me;
}

/** FNV-1a: version ids are random, so any spread-out hash shares them evenly. */
function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
