import type { Pool } from "mysql2/promise";
import type { Logger } from "../common/logger";
import type { NodeIdentity, NodeStats } from "./node-record";

/** A node's side of membership: registers its row, then refreshes heartbeat and stats. */
export class Heartbeat {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly pool: Pool,
    private readonly self: NodeIdentity,
    private readonly intervalMs: number,
    private readonly stats: () => Promise<NodeStats>,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.beat(true);
    this.timer = setInterval(() => {
      this.beat(false).catch((e) => this.log.warn({ err: e }, "heartbeat failed"));
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Marks the node stopped at once (clean shutdown), so coordinators stop routing to it; the
   * heartbeat time stays the moment it stopped, which is what repair waits on. The operator's marks
   * stay: a node being removed ('draining': its drain goes on) or removed (it must not count as a
   * member again; it was made 'stopped' by this once, and back in placement).
   */
  async leave(): Promise<void> {
    this.stop();
    await this.pool.execute(
      "UPDATE nodes SET state = IF(state IN ('draining', 'removed'), state, 'stopped'), heartbeat_at = NOW(3) WHERE id = ?",
      [this.self.id],
    );
  }

  private async beat(first: boolean): Promise<void> {
    const s = await this.stats();
    const { id, kind, address, zone, metricsPort } = this.self;
    // DB time (NOW(3)) on both sides of the liveness check, so node clocks do not matter.
    await this.pool.execute(
      `INSERT INTO nodes (id, kind, address, zone, metrics_port, state, blob_count, used_bytes, free_bytes, started_at, heartbeat_at)
       VALUES (?, ?, ?, ?, ?, 'up', ?, ?, ?, NOW(3), NOW(3))
       ON DUPLICATE KEY UPDATE kind = VALUES(kind), address = VALUES(address), zone = VALUES(zone), metrics_port = VALUES(metrics_port),
         blob_count = VALUES(blob_count), used_bytes = VALUES(used_bytes), free_bytes = VALUES(free_bytes),
         heartbeat_at = NOW(3)${first ? ", started_at = NOW(3), state = IF(state IN ('removed', 'stopped'), 'up', state)" : ""}`,
      [id, kind, address, zone, metricsPort, s.blobCount, s.usedBytes, s.freeBytes],
    );
  }
}
