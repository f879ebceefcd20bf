import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Pool, RowDataPacket } from "mysql2/promise";
import type { Logger } from "./logger";

export type NodeKind = "storage" | "backup" | "delete";

export interface NodeIdentity {
  id: string;
  kind: NodeKind;
  address: string;
  zone: string;
}

export interface NodeStats {
  blobCount: number;
  usedBytes: number;
  freeBytes: number;
}

export interface NodeRecord extends NodeIdentity, NodeStats {
  state: string;
  live: boolean;
  heartbeatAtMs: number;
  /** How old the last heartbeat was at the last refresh, by the database's clock. */
  silentForMs: number;
}

/** A node's id: MINIS3_NODE_ID, else the one kept in <dataDir>/node-id (made on first start). */
export async function resolveNodeId(configured: string, dataDir: string, kind: NodeKind): Promise<string> {
  if (configured) return configured;
  const file = join(dataDir, "node-id");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const id = `${kind}-${randomBytes(4).toString("hex")}`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, id + "\n", { flag: "wx" });
  return id;
}

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
   * heartbeat time stays the moment it stopped, which is what repair waits on.
   */
  async leave(): Promise<void> {
    this.stop();
    await this.pool.execute("UPDATE nodes SET state = 'stopped', heartbeat_at = NOW(3) WHERE id = ?", [this.self.id]);
  }

  private async beat(first: boolean): Promise<void> {
    const s = await this.stats();
    const { id, kind, address, zone } = this.self;
    // DB time (NOW(3)) on both sides of the liveness check, so node clocks do not matter.
    await this.pool.execute(
      `INSERT INTO nodes (id, kind, address, zone, state, blob_count, used_bytes, free_bytes, started_at, heartbeat_at)
       VALUES (?, ?, ?, ?, 'up', ?, ?, ?, NOW(3), NOW(3))
       ON DUPLICATE KEY UPDATE kind = VALUES(kind), address = VALUES(address), zone = VALUES(zone),
         blob_count = VALUES(blob_count), used_bytes = VALUES(used_bytes), free_bytes = VALUES(free_bytes),
         heartbeat_at = NOW(3)${first ? ", started_at = NOW(3), state = IF(state IN ('removed', 'stopped'), 'up', state)" : ""}`,
      [id, kind, address, zone, s.blobCount, s.usedBytes, s.freeBytes],
    );
  }
}

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
