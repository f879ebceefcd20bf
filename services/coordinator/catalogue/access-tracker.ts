import type { Logger } from "../../common/logger";
import type { Catalogue } from "./catalogue";

/** A read not yet written: when it was, and the access time the catalogue held when it was read. */
interface Access {
  atMs: number;
  recordedMs: number;
}

/**
 * Past this many reads held, a flush writes them all whatever their slack: memory stays bounded
 * (~100 bytes an entry) however widely a catalogue is read.
 */
const MAX_HELD = 100_000;

/**
 * Last-access times of retrieved versions, kept in memory and written to the catalogue in one
 * statement per interval: a read costs a Map.set, not a MySQL write.
 *
 * A read of a version whose catalogue access time (or upload) is less than `slackMs` old is held
 * until it is that old, then written with the newest read: a version read again and again costs
 * one row change per `slackMs`, not one a second. Each is a change of `accessed_ms`, which moves the
 * row's `versions_by_tier` entry; in the overwrite row nearly every GET reads a version uploaded
 * a second or two before, and these writes were ~33 ms of MariaDB's time a second (1,939 ops/s,
 * 3,489 rows in 20 statements over 10 s, bench/README.md "Access times held for a slack"). While
 * held, lastSeen() answers the read, so this coordinator's demotions and next-transition times see
 * it; another coordinator's see the catalogue's time, up to `slackMs` and one interval behind.
 */
export class AccessTracker {
  private pending = new Map<string, Access>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly catalogue: Catalogue,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly slackMs = 0,
    private readonly maxHeld = MAX_HELD,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** A read of `versionId` at `atMs`; `recordedMs`: the access time its catalogue row showed. */
  touch(versionId: string, recordedMs: number, atMs = Date.now()): void {
    const held = this.pending.get(versionId);
    if (held) {
      // The catalogue's time only grows; a read from an older cached row does not lower it.
      held.atMs = Math.max(held.atMs, atMs);
      held.recordedMs = Math.max(held.recordedMs, recordedMs);
    } else {
      this.pending.set(versionId, { atMs, recordedMs });
    }
  }

  /** An access not yet written (the lifecycle checks it before demoting). */
  lastSeen(versionId: string): number | undefined {
    return this.pending.get(versionId)?.atMs;
  }

  /** Writes the reads whose slack has passed (`all`: every read held, as when stopping). */
  async flush(all = false, nowMs = Date.now()): Promise<void> {
    if (this.pending.size === 0) return;
    const every = all || this.pending.size > this.maxHeld;
    const due = new Map<string, Access>();
    for (const [id, a] of this.pending) {
      if (every || nowMs - a.recordedMs >= this.slackMs) due.set(id, a);
    }
    if (due.size === 0) return;
    for (const id of due.keys()) this.pending.delete(id);
    try {
      await this.catalogue.recordAccess(new Map([...due].map(([id, a]) => [id, a.atMs])));
    } catch (e) {
      // Put them back (newer reads win) so the next flush retries.
      for (const [id, a] of due) if (!this.pending.has(id)) this.pending.set(id, a);
      this.log.warn({ err: e, count: due.size }, "could not record access times; will retry");
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush(true);
  }
}
