import type { TransitionStats } from "./transition-stats";

/**
 * How often the due-row poller writes its one info line of moves. Each move's own line is debug:
 * at info, an overwrite load wrote one line per replaced version (~900 a second through the whole
 * bench's overwrite row), and `npm start`'s launcher relaying them took 32 µs of CPU a line,
 * ~13 µs per request on top of the coordinator's own (2026-12-03, bench/README.md "The lifecycle's
 * line per move").
 */
export const REPORT_EVERY_MS = 10_000;

/** What one report line says: per transition, the versions moved and the attempts failed since the last. */
export interface MoveCounts {
  moved: Record<string, number>;
  failed: Record<string, number>;
}

/** Counts since the last report, read off the transitions' stats (which count since start-up). */
export class MoveReport {
  private readonly last: { moved: number; failed: number }[];

  constructor(private readonly stats: readonly TransitionStats[]) {
    this.last = stats.map((s) => ({ moved: s.moved, failed: s.failed }));
  }

  /** The moves and failures since the last call, or undefined when there were none. */
  next(): MoveCounts | undefined {
    const counts: MoveCounts = { moved: {}, failed: {} };
    let any = false;
    this.stats.forEach((s, i) => {
      const moved = s.moved - this.last[i].moved;
      const failed = s.failed - this.last[i].failed;
      this.last[i] = { moved: s.moved, failed: s.failed };
      if (moved) counts.moved[s.kind] = moved;
      if (failed) counts.failed[s.kind] = failed;
      any ||= moved > 0 || failed > 0;
    });
    return any ? counts : undefined;
  }
}
