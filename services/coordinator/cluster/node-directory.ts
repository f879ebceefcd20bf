import { EventEmitter } from "node:events";
import type { Pool, RowDataPacket } from "mysql2/promise";
import type { Logger } from "../../common/logger";
import type { NodeKind, NodeRecord } from "../../membership/node-record";

/**
 * A coordinator's view of the nodes, refreshed from the catalogue every interval. Emits "change"
 * when the set of live nodes (or an address) changes.
 */
export class NodeDirectory extends EventEmitter {
  private records: NodeRecord[] = [];
  private signature = "";
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly pool: Pool,
    private readonly intervalMs: number,
    private readonly downAfterMs: number,
    private readonly log: Logger,
  ) {
    super();
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((e) => this.log.warn({ err: e }, "node directory refresh failed"));
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  all(): readonly NodeRecord[] {
    return this.records;
  }

  ofKind(kind: NodeKind): NodeRecord[] {
    return this.records.filter((n) => n.kind === kind && n.state !== "removed");
  }

  get(id: string): NodeRecord | undefined {
    return this.records.find((n) => n.id === id);
  }

  isLive(id: string): boolean {
    return this.get(id)?.live ?? false;
  }

  /** Marks a node down until its next heartbeat shows it back (called when a call to it fails). */
  suspect(id: string): void {
    const n = this.get(id);
    if (n?.live) {
      n.live = false;
      this.log.warn({ node: id }, "node unreachable; treating it as down");
      this.emitIfChanged();
    }
  }

  async refresh(): Promise<void> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT id, kind, address, zone, state, blob_count, used_bytes, free_bytes,
              UNIX_TIMESTAMP(heartbeat_at) * 1000 AS hb,
              TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(3)) / 1000 AS age_ms
         FROM nodes ORDER BY id`,
    );
    this.records = rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      address: r.address,
      zone: r.zone,
      state: r.state,
      blobCount: Number(r.blob_count),
      usedBytes: Number(r.used_bytes),
      freeBytes: Number(r.free_bytes),
      heartbeatAtMs: Math.round(Number(r.hb)),
      silentForMs: Math.max(0, Math.round(Number(r.age_ms))),
      live: r.state !== "removed" && r.state !== "stopped" && Number(r.age_ms) < this.downAfterMs,
    }));
    this.emitIfChanged();
  }

  private emitIfChanged(): void {
    const sig = this.records.map((n) => `${n.id}@${n.address}:${n.live ? 1 : 0}:${n.state}`).join(",");
    if (sig !== this.signature) {
      this.signature = sig;
      this.emit("change", this.records);
    }
  }
}
