import type { Pool, RowDataPacket } from "mysql2/promise";
import type { CoordinatorPresence } from "./coordinator-presence";

/**
 * A coordinator as /status shows it. `state`: `up` (its beat moves, as this one's presence judges
 * it: a peer is taken as gone only after twice MINIS3_NODE_DOWN_AFTER without a new beat),
 * `stopped` (signed off cleanly), `down` (silent). Times on the catalogue's clock.
 */
export interface CoordinatorRow {
  id: string;
  /** host:gRPC port, from its id. */
  address: string;
  self: boolean;
  state: "up" | "stopped" | "down";
  lastBeatAtMs: number;
  silentForMs: number;
  /** Known for the answering coordinator, and for others whose row carries it. */
  pid?: number;
  /** Where its Prometheus metrics are served (on its address's host), when its row says. */
  metricsPort?: number;
}

/**
 * Every coordinator in `coordinators` (rows of processes gone for 10 minutes are deleted by
 * CoordinatorPresence), read for /status only: liveness is the presence's judgement, not this read.
 */
export class CoordinatorRoster {
  constructor(
    private readonly pool: Pick<Pool, "query">,
    private readonly presence: Pick<CoordinatorPresence, "id" | "others">,
  ) {}

  async list(): Promise<CoordinatorRow[]> {
    // SELECT *: a pid column, where a version of the table has one, comes along.
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT *, UNIX_TIMESTAMP(heartbeat_at) * 1000 AS hb_ms,
              TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(3)) / 1000 AS age_ms
         FROM coordinators ORDER BY id`,
    );
    const live = new Set(this.presence.others());
    const list = rows.map((r): CoordinatorRow => {
      const id = String(r.id);
      const self = id === this.presence.id;
      const pid = self ? process.pid : Number(r.pid ?? /:pid(\d+)\//.exec(id)?.[1] ?? NaN);
      return {
        id,
        address: id.split("/", 1)[0],
        self,
        state: self || live.has(id) ? "up" : r.state === "stopped" ? "stopped" : "down",
        lastBeatAtMs: Math.round(Number(r.hb_ms)),
        silentForMs: Math.max(0, Math.round(Number(r.age_ms))),
        ...(Number.isInteger(pid) && pid > 0 ? { pid } : {}),
        ...(r.metrics_port ? { metricsPort: Number(r.metrics_port) } : {}),
      };
    });
    // This coordinator, even before its first beat is read back (and live peers the table lost).
    for (const id of [this.presence.id, ...live]) {
      if (!list.some((c) => c.id === id)) {
        const self = id === this.presence.id;
        list.push({
          id,
          address: id.split("/", 1)[0],
          self,
          state: "up",
          lastBeatAtMs: 0,
          silentForMs: 0,
          ...(self ? { pid: process.pid } : {}),
        });
      }
    }
    return list;
  }
}
