import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { withRetry } from "../../common/db/datasource";
import { GroupCommit } from "../../common/group-commit";
import { toVersionRow, VERSION_COLUMNS, type BytesTier, type VersionRow, type VersionState } from "./version-row";

/** What an upload commits once its replicas confirmed the bytes. */
export interface NewVersion {
  versionId: string;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  replicas: string[];
  createdMs: number;
}

export interface CommitResult {
  /** Versions this commit pushed to the trash (the key's previous version; same-batch losers). */
  replaced: string[];
}

const placeholders = (n: number, group: string) => Array.from({ length: n }, () => group).join(", ");

/**
 * The catalogue in MySQL: the truth about which version of a key is visible and where every
 * version's bytes are. Hot paths use mysql2 prepared statements; upload commits are grouped into
 * one transaction per batch (see GroupCommit), which is what lets it keep up with thousands of
 * small uploads a second.
 */
export class Catalogue {
  private readonly commits: GroupCommit<NewVersion, CommitResult>;

  constructor(private readonly pool: Pool, private readonly trashTtlMs: number) {
    this.commits = new GroupCommit((batch) => withRetry(() => this.commitBatch(batch)), 64, 2);
  }

  /** The visible version of a key, or null. */
  async current(bucket: string, key: string): Promise<VersionRow | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
        WHERE o.bucket = ? AND o.object_key = ?`,
      [bucket, key],
    );
    return rows.length ? toVersionRow(rows[0]) : null;
  }

  async version(versionId: string): Promise<VersionRow | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(`SELECT ${VERSION_COLUMNS} FROM versions v WHERE v.version_id = ?`, [versionId]);
    return rows.length ? toVersionRow(rows[0]) : null;
  }

  /** Makes a new version visible (the moment an upload becomes real). Waits for its batch. */
  commit(v: NewVersion): Promise<CommitResult> {
    return this.commits.submit(v);
  }

  /**
   * Hides a key's visible version and moves it to the trash state (its bytes move later).
   * Returns the version, or null when the key has no visible version.
   */
  async markDeleted(bucket: string, key: string, nowMs: number): Promise<VersionRow | null> {
    return withRetry(() => this.inTransaction(async (c) => {
      const [cur] = await c.execute<RowDataPacket[]>(
        "SELECT version_id FROM objects WHERE bucket = ? AND object_key = ? FOR UPDATE", [bucket, key]);
      if (!cur.length) return null;
      const versionId: string = cur[0].version_id;
      await c.execute("DELETE FROM objects WHERE bucket = ? AND object_key = ?", [bucket, key]);
      await c.execute(
        "UPDATE versions SET state = 'trash', deleted_ms = ?, purge_ms = ?, reason = 'deleted' WHERE version_id = ?",
        [nowMs, nowMs + this.trashTtlMs, versionId]);
      const [rows] = await c.execute<RowDataPacket[]>(`SELECT ${VERSION_COLUMNS} FROM versions v WHERE v.version_id = ?`, [versionId]);
      return toVersionRow(rows[0]);
    }));
  }

  /**
   * Makes a trash version visible again under its key (its bytes must already be hot on
   * `replicas`); the key's current version, if any, goes to the trash. Returns the replaced id.
   */
  async restore(versionId: string, expectTier: BytesTier, replicas: string[], cleanup: string[], nowMs: number): Promise<{ restored: boolean; replaced: string | null }> {
    return withRetry(() => this.inTransaction(async (c) => {
      // Only if the bytes are still where the caller copied them from (a trash move may have run).
      const [vr] = await c.execute<RowDataPacket[]>(
        "SELECT bucket, object_key FROM versions WHERE version_id = ? AND state = 'trash' AND tier = ? FOR UPDATE", [versionId, expectTier]);
      if (!vr.length) return { restored: false, replaced: null };
      const { bucket, object_key: key } = vr[0];
      const [cur] = await c.execute<RowDataPacket[]>(
        "SELECT version_id FROM objects WHERE bucket = ? AND object_key = ? FOR UPDATE", [bucket, key]);
      const replaced: string | null = cur.length ? cur[0].version_id : null;
      if (replaced) {
        await c.execute(
          "UPDATE versions SET state = 'trash', deleted_ms = ?, purge_ms = ?, reason = 'overwritten' WHERE version_id = ?",
          [nowMs, nowMs + this.trashTtlMs, replaced]);
      }
      await c.execute(
        `INSERT INTO objects (bucket, object_key, version_id) VALUES (?, ?, ?)
         ON DUPLICATE KEY UPDATE version_id = VALUES(version_id)`, [bucket, key, versionId]);
      await c.execute(
        `UPDATE versions SET state = 'live', tier = 'hot', replicas = ?, cleanup = ?, accessed_ms = ?,
                deleted_ms = NULL, purge_ms = NULL, reason = NULL WHERE version_id = ?`,
        [replicas.join(","), cleanup.join(","), nowMs, versionId]);
      return { restored: true, replaced };
    }));
  }

  /**
   * Moves a version's bytes from one tier to another in the catalogue, only if it is still in the
   * expected state and tier (so a concurrent delete, read or transition wins cleanly). The nodes of
   * the old copies are recorded in `cleanup` until they are deleted. Returns false if it lost.
   */
  async moveTier(versionId: string, expect: { state: VersionState; tier: BytesTier; accessedMs?: number },
    to: { tier: BytesTier; replicas: string[]; accessedMs?: number }, oldCopies: string[]): Promise<boolean> {
    const params: (string | number)[] = [to.tier, to.replicas.join(","), oldCopies.join(",")];
    let sql = "UPDATE versions SET tier = ?, replicas = ?, cleanup = ?";
    if (to.accessedMs !== undefined) { sql += ", accessed_ms = ?"; params.push(to.accessedMs); }
    sql += " WHERE version_id = ? AND state = ? AND tier = ?";
    params.push(versionId, expect.state, expect.tier);
    if (expect.accessedMs !== undefined) { sql += " AND accessed_ms = ?"; params.push(expect.accessedMs); }
    const [res] = await this.pool.execute<ResultSetHeader>(sql, params);
    return res.affectedRows === 1;
  }

  async setReplicas(versionId: string, replicas: string[]): Promise<void> {
    await this.pool.execute("UPDATE versions SET replicas = ? WHERE version_id = ?", [replicas.join(","), versionId]);
  }

  async setCleanup(versionId: string, nodes: string[]): Promise<void> {
    await this.pool.execute("UPDATE versions SET cleanup = ? WHERE version_id = ?", [nodes.join(","), versionId]);
  }

  /** Forgets a purged version; only if it is (still) in the trash. */
  async forget(versionId: string): Promise<boolean> {
    const [res] = await this.pool.execute<ResultSetHeader>("DELETE FROM versions WHERE version_id = ? AND state = 'trash'", [versionId]);
    return res.affectedRows === 1;
  }

  /** Records reads: last-access times, one multi-row UPDATE for many reads. */
  async recordAccess(times: Map<string, number>): Promise<void> {
    const entries = [...times];
    for (let i = 0; i < entries.length; i += 500) {
      const part = entries.slice(i, i + 500);
      const cases = part.map(() => "WHEN ? THEN ?").join(" ");
      await this.pool.query(
        `UPDATE versions SET accessed_ms = GREATEST(accessed_ms, CASE version_id ${cases} END)
          WHERE state = 'live' AND version_id IN (${placeholders(part.length, "?")})`,
        [...part.flat(), ...part.map(([id]) => id)],
      );
    }
  }

  /** Visible objects under a prefix, in key (byte) order, after `afterKey`. */
  async list(bucket: string, prefix: string, afterKey: string, limit: number): Promise<VersionRow[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
        WHERE o.bucket = ? AND o.object_key LIKE ? AND o.object_key > ?
        ORDER BY o.object_key LIMIT ?`,
      [bucket, likePrefix(prefix), afterKey, limit],
    );
    return rows.map(toVersionRow);
  }

  /** Restorable versions under a prefix, newest first per key; cursor is the last version id. */
  async listTrash(bucket: string, prefix: string, nowMs: number, afterVersion: string, limit: number): Promise<VersionRow[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT ${VERSION_COLUMNS} FROM versions v
        WHERE v.state = 'trash' AND v.bucket = ? AND v.object_key LIKE ? AND v.purge_ms > ? AND v.version_id > ?
        ORDER BY v.version_id LIMIT ?`,
      [bucket, likePrefix(prefix), nowMs, afterVersion, limit],
    );
    return rows.map(toVersionRow);
  }

  /** The most recent restorable version of a key. */
  async latestTrash(bucket: string, key: string, nowMs: number): Promise<VersionRow | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT ${VERSION_COLUMNS} FROM versions v
        WHERE v.bucket = ? AND v.object_key = ? AND v.state = 'trash' AND v.purge_ms > ?
        ORDER BY v.deleted_ms DESC, v.version_id DESC LIMIT 1`,
      [bucket, key, nowMs],
    );
    return rows.length ? toVersionRow(rows[0]) : null;
  }

  /** Object count and bytes per tier (live versions), and the trash. */
  async tierTotals(): Promise<{ tier: string; objects: number; bytes: number }[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT IF(state = 'trash', 'trash', tier) AS t, COUNT(*) AS n, COALESCE(SUM(size), 0) AS b
         FROM versions GROUP BY t`);
    const by = new Map(rows.map((r) => [r.t as string, { objects: Number(r.n), bytes: Number(r.b) }]));
    return ["hot", "cold", "trash"].map((tier) => ({ tier, ...(by.get(tier) ?? { objects: 0, bytes: 0 }) }));
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  /** Runs versions matching a lifecycle query; used by the reconciler. */
  async query(sql: string, params: (string | number)[]): Promise<VersionRow[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT ${VERSION_COLUMNS} FROM versions v WHERE ${sql}`, params);
    return rows.map(toVersionRow);
  }

  private async inTransaction<T>(fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    const c = await this.pool.getConnection();
    try {
      // READ COMMITTED: no gap locks, so concurrent uploads of new keys do not deadlock each other.
      await c.query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
      await c.beginTransaction();
      try {
        const out = await fn(c);
        await c.commit();
        return out;
      } catch (e) {
        await c.rollback().catch(() => undefined);
        throw e;
      }
    } finally {
      c.release();
    }
  }

  /** One transaction for a whole batch of upload commits. */
  private async commitBatch(batch: NewVersion[]): Promise<CommitResult[]> {
    const nowMs = Date.now();
    const purgeMs = nowMs + this.trashTtlMs;
    return this.inTransaction(async (c) => {
      // The last upload of a key in the batch wins; earlier ones go straight to the trash.
      const winner = new Map<string, number>();
      batch.forEach((v, i) => winner.set(`${v.bucket}\u0000${v.key}`, i));
      const results: CommitResult[] = batch.map(() => ({ replaced: [] }));
      const loserOf = new Map<number, number>(); // loser index -> winner index
      batch.forEach((v, i) => {
        const w = winner.get(`${v.bucket}\u0000${v.key}`)!;
        if (w !== i) { loserOf.set(i, w); results[w].replaced.push(v.versionId); }
      });

      // Lock the keys' current rows (sorted, so two coordinators lock in the same order).
      const byBucket = new Map<string, string[]>();
      for (const i of winner.values()) {
        const v = batch[i];
        (byBucket.get(v.bucket) ?? byBucket.set(v.bucket, []).get(v.bucket)!).push(v.key);
      }
      const previous: string[] = [];
      for (const [bucket, keys] of [...byBucket].sort(([a], [b]) => (a < b ? -1 : 1))) {
        keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const [rows] = await c.query<RowDataPacket[]>(
          `SELECT object_key, version_id FROM objects WHERE bucket = ? AND object_key IN (${placeholders(keys.length, "?")}) FOR UPDATE`,
          [bucket, ...keys]);
        for (const r of rows) {
          const w = winner.get(`${bucket}\u0000${(r.object_key as Buffer).toString("utf8")}`)!;
          results[w].replaced.push(r.version_id);
          previous.push(r.version_id);
        }
      }

      const vals: (string | number | null)[] = [];
      batch.forEach((v, i) => {
        const lost = loserOf.has(i);
        vals.push(v.versionId, v.bucket, v.key, v.size, v.sha256, v.etag, v.contentType,
          Object.keys(v.metadata).length ? JSON.stringify(v.metadata) : null,
          lost ? "trash" : "live", "hot", v.replicas.join(","), v.createdMs, v.createdMs,
          lost ? nowMs : null, lost ? purgeMs : null, lost ? "overwritten" : null);
      });
      await c.query(
        `INSERT INTO versions (version_id, bucket, object_key, size, sha256, etag, content_type, metadata, state, tier,
                               replicas, created_ms, accessed_ms, deleted_ms, purge_ms, reason)
         VALUES ${placeholders(batch.length, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")}`, vals);
      const winners = [...winner.values()].map((i) => batch[i]);
      await c.query(
        `INSERT INTO objects (bucket, object_key, version_id) VALUES ${placeholders(winners.length, "(?, ?, ?)")}
         ON DUPLICATE KEY UPDATE version_id = VALUES(version_id)`,
        winners.flatMap((v) => [v.bucket, v.key, v.versionId]));
      if (previous.length) {
        await c.query(
          `UPDATE versions SET state = 'trash', deleted_ms = ?, purge_ms = ?, reason = 'overwritten'
            WHERE version_id IN (${placeholders(previous.length, "?")}) AND state = 'live'`,
          [nowMs, purgeMs, ...previous]);
      }
      return results;
    });
  }
}

/** A LIKE pattern matching keys that start with prefix (%, _ and \ escaped). */
function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => "\\" + c) + "%";
}
