import type { Pool, RowDataPacket } from "mysql2/promise";

/** How long one reading of MariaDB's clock is carried forward on this process's monotonic clock. */
const RESYNC_MS = 10_000;

/**
 * The catalogue's time: MariaDB's NOW(), the one clock every coordinator shares, in epoch ms. Purge
 * and trash times are written and compared on it, never on a process's wall clock, which may run
 * ahead or jump (review 2026-11-30, finding 5: a coordinator two days ahead purged the whole trash).
 * One query per RESYNC_MS; in between, the last reading advances by the monotonic clock, so the
 * hot paths (commits, deletes) pay no extra round trip and a local clock jump changes nothing.
 */
export class CatalogueClock {
  private base?: { dbMs: number; monoMs: number };
  private syncing?: Promise<void>;

  constructor(private readonly pool: Pool) {}

  async now(): Promise<number> {
    if (!this.base || performance.now() - this.base.monoMs >= RESYNC_MS) {
      await (this.syncing ??= this.sync().finally(() => {
        this.syncing = undefined;
      }));
    }
    return Math.round(this.base!.dbMs + performance.now() - this.base!.monoMs);
  }

  private async sync(): Promise<void> {
    const [rows] = await this.pool.query<RowDataPacket[]>("SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED) AS ms");
    // Taken as read when the answer came: the reading is then never ahead of MariaDB's clock, only
    // behind by the answer's way back. The middle of the call ran ahead by half of any wait for a
    // pooled connection (~400 ms behind a 0.8 s query on a pool of one), and purges, takeovers and
    // undeletes judged on it came early (2026-12-07).
    this.base = { dbMs: Number(rows[0].ms), monoMs: performance.now() };
  }
}
