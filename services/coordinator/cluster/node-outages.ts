import type { NodeRecord } from "../../membership/node-record";

/** Milliseconds on a clock that wall-clock steps do not move (performance.now). */
export type MonotonicClock = () => number;

/** The part of the node directory this needs: its records, their heartbeats, and "change" when liveness changes. */
export interface NodeLiveness {
  all(): readonly NodeRecord[];
  heartbeating(id: string): boolean;
  /** When (monotonic) the rows it last read successfully were asked for. */
  readAt(): number;
  on(event: "change", listener: (records: NodeRecord[]) => void): unknown;
}

/**
 * Which storage nodes this coordinator has itself seen down without a break for `lostAfterMs`
 * (MINIS3_REPAIR_AFTER), timed on its monotonic clock from the first refresh (or failed call) that
 * showed each one down. Heartbeat ages read from the database cannot say that: after a cold start
 * or a MariaDB outage every row is old while the nodes are moments from heartbeating, and repairs
 * based on them deleted every copy (correctness review, finding 1). So nothing counts as lost in the
 * first `lostAfterMs` after start-up, whatever the rows say.
 *
 * Down means not heartbeating, seen here: a node that heartbeats but that this coordinator cannot
 * reach (suspected) is not down for repair. Being cut off from one coordinator is no sign that its
 * copies are gone, and "lost" lets repair drop copies from a version's list (finding 9).
 */
export class NodeOutages {
  private readonly downSince = new Map<string, number>();
  private retired: string[] = [];
  private draining = new Set<string>();
  private readonly watchingSince: number;

  constructor(
    private readonly directory: NodeLiveness,
    private readonly lostAfterMs: number,
    private readonly now: MonotonicClock = () => performance.now(),
  ) {
    this.watchingSince = now();
    directory.on("change", (records) => this.observe(records));
    this.observe(directory.all());
  }

  /** How long until this coordinator has watched the nodes for lostAfterMs; it repairs nothing before. */
  settlesInMs(): number {
    return Math.max(0, this.lostAfterMs - (this.now() - this.watchingSince));
  }

  /**
   * Storage nodes seen down for lostAfterMs without a break, those retired for good, and those being
   * removed that are down (at once: an operator said they go): the copies they hold may be made again
   * elsewhere, from the other copies.
   */
  lost(): string[] {
    // Up to the last read, not now: a coordinator that woke from a stop (or could not read MariaDB)
    // has not seen the node down since, and it may have come back meanwhile.
    const t = Math.min(this.now(), this.directory.readAt());
    return [
      ...[...this.downSince].filter(([id, since]) => this.draining.has(id) || t - since >= this.lostAfterMs).map(([id]) => id),
      ...this.retired,
    ];
  }

  /**
   * Storage nodes whose copies must all be made elsewhere: the lost ones, and those being removed
   * (draining) even while they are up (the reconciler queues a repair for each version they hold).
   */
  toEmpty(): string[] {
    return [...new Set([...this.lost(), ...this.draining])];
  }

  private observe(records: readonly NodeRecord[]): void {
    const t = this.now();
    const storage = new Set<string>();
    // A removed node is out of placement (NodeDirectory.ofKind) and lost at once: an operator retired it.
    this.retired = records.filter((n) => n.kind === "storage" && n.state === "removed").map((n) => n.id);
    this.draining = new Set(records.filter((n) => n.kind === "storage" && n.state === "draining").map((n) => n.id));
    for (const n of records) {
      if (n.kind !== "storage" || n.state === "removed") continue;
      storage.add(n.id);
      if (this.directory.heartbeating(n.id)) this.downSince.delete(n.id);
      else if (!this.downSince.has(n.id)) this.downSince.set(n.id, t);
    }
    for (const id of this.downSince.keys()) if (!storage.has(id)) this.downSince.delete(id);
  }
}
