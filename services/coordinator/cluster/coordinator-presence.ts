import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Pool, RowDataPacket } from "mysql2/promise";
import type { Logger } from "../../common/logger";

/** A coordinator's id: its host and gRPC port (stable across restarts), or its pid if the port is picked at random. */
export function coordinatorId(grpcPort: number): string {
  return `${hostname()}:${grpcPort || `pid${process.pid}`}`.replace(/[^A-Za-z0-9._:-]/g, "_").slice(0, 255);
}

/**
 * Which other coordinators are live, from a heartbeat row each in `coordinators` (one
 * two-statement round trip per interval). `alone()` is what lets the read cache answer: it holds
 * only while the last look, no older than two intervals, saw no one else.
 *
 * Why that is enough: a coordinator that starts and sees another live one waits two intervals
 * before it serves, so the other has looked again and seen it by then; a coordinator that sees no
 * one starts at once, and if the other was merely stalled, that one's last look is too old to trust
 * when it wakes. Both register before they look, so two starting together cannot both miss.
 */
export class CoordinatorPresence {
  private peers: string[] = [];
  private trustUntil = 0;
  /**
   * Numbers the unbroken stretches of looks: a new one starts whenever the peers change or a look
   * comes after the last one stopped being trusted (a stall, a slow database), because another
   * coordinator may have come, written and gone unseen in between.
   */
  private stretch = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly pool: Pool,
    readonly id: string,
    private readonly intervalMs: number,
    private readonly downAfterMs: number,
    private readonly log: Logger,
  ) {}

  /** Registers; if other coordinators are live, resolves only once they must have seen this one. */
  async start(): Promise<void> {
    await this.look(true);
    this.log.info(
      { id: this.id, coordinators: this.peers },
      this.peers.length
        ? "other coordinators are live (read cache off); waiting for them to see this one"
        : "the only coordinator: read cache on",
    );
    if (this.peers.length) {
      await sleep(2 * this.intervalMs);
      await this.look(false);
    }
    this.timer = setInterval(() => {
      this.look(false).catch((e) => this.log.warn({ err: e }, "coordinator heartbeat failed"));
    }, this.intervalMs);
    this.timer.unref();
  }

  /**
   * The current stretch of being the only live coordinator (the last look is recent and saw no one
   * else), or undefined. Within one stretch no other coordinator can have written; what was read
   * in an earlier one may be stale.
   */
  aloneStretch(): number | undefined {
    return this.peers.length === 0 && performance.now() < this.trustUntil ? this.stretch : undefined;
  }

  others(): readonly string[] {
    return this.peers;
  }

  /** Clean shutdown: the others may cache again at their next look. */
  async leave(): Promise<void> {
    clearInterval(this.timer);
    await this.pool.execute("UPDATE coordinators SET state = 'stopped' WHERE id = ?", [this.id]);
  }

  private async look(first: boolean): Promise<void> {
    const sentAt = performance.now();
    const [results] = await this.pool.query<RowDataPacket[][]>(
      `INSERT INTO coordinators (id, state, started_at, heartbeat_at) VALUES (?, 'up', NOW(3), NOW(3))
         ON DUPLICATE KEY UPDATE heartbeat_at = NOW(3)${first ? ", started_at = NOW(3), state = 'up'" : ""};
       SELECT id FROM coordinators
        WHERE id <> ? AND state = 'up' AND TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(3)) < ? * 1000
        ORDER BY id`,
      [this.id, this.id, this.downAfterMs],
    );
    const peers = (results[1] as RowDataPacket[]).map((r) => r.id as string);
    const changed = peers.join(",") !== this.peers.join(",");
    if (changed || sentAt >= this.trustUntil) this.stretch++;
    this.peers = peers;
    this.trustUntil = sentAt + 2 * this.intervalMs;
    if (changed && !first) {
      this.log.info(
        { coordinators: peers },
        peers.length ? "other coordinators are live: read cache off" : "this is the only coordinator: read cache on",
      );
    }
  }
}
