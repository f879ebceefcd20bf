import type { Pool, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { withRetry } from "../../common/db/datasource";
import { inTransaction } from "../../common/db/transaction";
import { GroupCommit } from "../../common/group-commit";
import { ReadCache } from "./read-cache";
import type { BytesTier, VersionRow, VersionState } from "../model/version-row";
import { toVersionRow, VERSION_COLUMNS } from "./version-columns";

/** What an upload commits once its replicas confirmed the bytes: the row's given fields. */
export type NewVersion = Pick<VersionRow,
  "versionId" | "bucket" | "key" | "size" | "sha256" | "etag" | "contentType" | "metadata" | "replicas" | "createdMs">;

/** A conditional tier move (see moveTier). */
interface TierMove {
  versionId: string;
  expect: { state: VersionState; tier: BytesTier; accessedMs?: number };
  to: { tier: BytesTier; replicas: string[]; accessedMs?: number };
  oldCopies: string[];
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
  private readonly deletes: GroupCommit<{ bucket: string; key: string }, VersionRow | null>;
  private readonly lookups: GroupCommit<{ bucket: string; key: string }, VersionRow | null>;
  private readonly versionReads: GroupCommit<string, VersionRow | null>;
  private readonly cleared: GroupCommit<string, void>;
  private readonly moves: GroupCommit<TierMove, boolean>;

  /**
   * `pool` must allow multiple statements per query (see openDataSource). Every change goes
   * through here and is reported to `cache` once committed (the default cache never answers).
   */
  constructor(private readonly pool: Pool, private readonly trashTtlMs: number,
    private readonly cache: ReadCache = new ReadCache(0, () => undefined)) {
    // One batch in flight per kind: the rest gather meanwhile, so round trips grow with load slower
    // than operations do (each round trip costs more CPU here than the statements it carries).
    this.commits = new GroupCommit((batch) => withRetry(() => this.commitBatch(batch)));
    this.deletes = new GroupCommit((batch) => withRetry(() => this.deleteBatch(batch)));
    this.lookups = new GroupCommit((batch) => this.lookupBatch(batch));
    this.versionReads = new GroupCommit((ids) => this.versionBatch(ids));
    this.cleared = new GroupCommit((ids) => withRetry(() => this.clearCleanupBatch(ids)), { maxBatch: 256 });
    this.moves = new GroupCommit((batch) => withRetry(() => this.moveBatch(batch)));
  }

  /**
   * The visible version of a key, or null: from the read cache when it may answer (`fresh`: never),
   * else from MariaDB, concurrent lookups sharing one query.
   */
  current(bucket: string, key: string, fresh = false): Promise<VersionRow | null> {
    const hit = fresh ? undefined : this.cache.get(bucket, key);
    if (hit) return Promise.resolve(hit);
    const ticket = this.cache.ticket();
    return this.lookups.submit({ bucket, key }).then((row) => {
      this.cache.fill(ticket, row);
      return row;
    });
  }

  private async lookupBatch(batch: { bucket: string; key: string }[]): Promise<(VersionRow | null)[]> {
    if (batch.length === 1) {
      const [rows] = await this.pool.execute<RowDataPacket[]>(
        `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
          WHERE o.bucket = ? AND o.object_key = ?`, [batch[0].bucket, batch[0].key]);
      return [rows.length ? toVersionRow(rows[0]) : null];
    }
    const found = new Map<string, VersionRow>();
    for (const [bucket, keys] of groupKeys(batch)) {
      const [rows] = await this.pool.query<RowDataPacket[]>(
        `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
          WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")})`, [bucket, ...keys]);
      for (const r of rows) {
        const v = toVersionRow(r);
        found.set(`${v.bucket}\u0000${v.key}`, v);
      }
    }
    return batch.map(({ bucket, key }) => found.get(`${bucket}\u0000${key}`) ?? null);
  }

  /** A version by id (every lifecycle job starts here); concurrent reads share one query. */
  version(versionId: string): Promise<VersionRow | null> {
    return this.versionReads.submit(versionId);
  }

  private async versionBatch(ids: string[]): Promise<(VersionRow | null)[]> {
    const [rows] = ids.length === 1
      ? await this.pool.execute<RowDataPacket[]>(`SELECT ${VERSION_COLUMNS} FROM versions v WHERE v.version_id = ?`, ids)
      : await this.pool.query<RowDataPacket[]>(
        `SELECT ${VERSION_COLUMNS} FROM versions v WHERE v.version_id IN (${placeholders(ids.length, "?")})`, ids);
    const by = new Map(rows.map((r) => [r.version_id as string, toVersionRow(r)]));
    return ids.map((id) => by.get(id) ?? null);
  }

  /** Makes a new version visible (the moment an upload becomes real). Waits for its batch. */
  async commit(v: NewVersion): Promise<CommitResult> {
    const ticket = this.cache.ticket();
    let result: CommitResult | undefined;
    try {
      result = await this.commits.submit(v);
      return result;
    } finally {
      // The new row is built only when the cache may keep it (it is on the path of every upload).
      const current = result && this.cache.enabled ? { ticket, row: committedRow(v) } : undefined;
      this.cache.changed([v], [v.versionId, ...(result?.replaced ?? [])], current);
    }
  }

  /**
   * Hides a key's visible version and moves it to the trash state (its bytes move later).
   * Returns the version, or null when the key has no visible version. Concurrent deletes share
   * one transaction.
   */
  async markDeleted(bucket: string, key: string): Promise<VersionRow | null> {
    let v: VersionRow | null = null;
    try {
      v = await this.deletes.submit({ bucket, key });
      return v;
    } finally {
      this.cache.changed([{ bucket, key }], v ? [v.versionId] : []);
    }
  }

  /**
   * Makes a trash version visible again under its key (its bytes must already be hot on
   * `replicas`); the key's current version, if any, goes to the trash. Returns the replaced id.
   */
  async restore(versionId: string, expectTier: BytesTier, replicas: string[], cleanup: string[], nowMs: number): Promise<{ restored: boolean; replaced: string | null }> {
    const touched: { bucket: string; key: string }[] = [];
    const versions = [versionId];
    try {
      return await this.restoreTx(versionId, expectTier, replicas, cleanup, nowMs, touched, versions);
    } finally {
      this.cache.changed(touched, versions);
    }
  }

  private restoreTx(versionId: string, expectTier: BytesTier, replicas: string[], cleanup: string[], nowMs: number,
    touched: { bucket: string; key: string }[], versions: string[]): Promise<{ restored: boolean; replaced: string | null }> {
    return inTransaction(this.pool, async (c) => {
      // Only if the bytes are still where the caller copied them from (a trash move may have run).
      const [vr] = await c.execute<RowDataPacket[]>(
        "SELECT bucket, object_key FROM versions WHERE version_id = ? AND state = 'trash' AND tier = ? FOR UPDATE", [versionId, expectTier]);
      if (!vr.length) return { restored: false, replaced: null };
      const { bucket, object_key: key } = vr[0];
      touched.push({ bucket: bucket.toString("utf8"), key: key.toString("utf8") });
      const [cur] = await c.execute<RowDataPacket[]>(
        "SELECT version_id FROM objects WHERE bucket = ? AND object_key = ? FOR UPDATE", [bucket, key]);
      const replaced: string | null = cur.length ? cur[0].version_id : null;
      if (replaced) versions.push(replaced);
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
    }, { readCommitted: true });
  }

  /**
   * Moves a version's bytes from one tier to another in the catalogue, only if it is still in the
   * expected state and tier (so a concurrent delete, read or transition wins cleanly). The nodes of
   * the old copies are recorded in `cleanup` until they are deleted. Returns false if it lost.
   * Concurrent moves share one transaction.
   */
  async moveTier(versionId: string, expect: TierMove["expect"], to: TierMove["to"], oldCopies: string[]): Promise<boolean> {
    try {
      return await this.moves.submit({ versionId, expect, to, oldCopies });
    } finally {
      this.cache.changed([], [versionId]);
    }
  }

  /** Concurrent lifecycle jobs' moves, as one transaction; each UPDATE still reports its own outcome. */
  private async moveBatch(batch: TierMove[]): Promise<boolean[]> {
    if (batch.length === 1) {
      const { sql, params } = moveStatement(batch[0]);
      const [res] = await this.pool.execute<ResultSetHeader>(sql, params);
      return [res.affectedRows === 1];
    }
    const tx = new MultiStatement();
    const at = batch.map((m) => {
      const { sql, params } = moveStatement(m);
      return tx.add(sql, params);
    });
    const out = await tx.run(this.pool);
    return at.map((i) => (out[i] as ResultSetHeader).affectedRows === 1);
  }

  async setReplicas(versionId: string, replicas: string[]): Promise<void> {
    try {
      await this.pool.execute("UPDATE versions SET replicas = ? WHERE version_id = ?", [replicas.join(","), versionId]);
    } finally {
      this.cache.changed([], [versionId]);
    }
  }

  /** Records the nodes still holding left-over copies; clearing (the usual case) is grouped. */
  async setCleanup(versionId: string, nodes: string[]): Promise<void> {
    try {
      if (nodes.length === 0) await this.cleared.submit(versionId);
      else await this.pool.execute("UPDATE versions SET cleanup = ? WHERE version_id = ?", [nodes.join(","), versionId]);
    } finally {
      this.cache.changed([], [versionId]);
    }
  }

  private async clearCleanupBatch(ids: string[]): Promise<void[]> {
    await this.pool.query(`UPDATE versions SET cleanup = '' WHERE version_id IN (${placeholders(ids.length, "?")})`, ids);
    return ids.map(() => undefined);
  }

  /** Forgets a purged version; only if it is (still) in the trash. */
  async forget(versionId: string): Promise<boolean> {
    try {
      const [res] = await this.pool.execute<ResultSetHeader>("DELETE FROM versions WHERE version_id = ? AND state = 'trash'", [versionId]);
      return res.affectedRows === 1;
    } finally {
      this.cache.changed([], [versionId]);
    }
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
    this.cache.accessed(times);
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



  /**
   * One transaction for a whole batch of upload commits, sent as one multi-statement query: on
   * this kind of machine a round trip to MariaDB costs more CPU than the statements themselves.
   */
  private async commitBatch(batch: NewVersion[]): Promise<CommitResult[]> {
    const nowMs = Date.now();
    const purgeMs = nowMs + this.trashTtlMs;
    // The last upload of a key in the batch wins; earlier ones go straight to the trash.
    const winner = new Map<string, number>();
    batch.forEach((v, i) => winner.set(`${v.bucket}\u0000${v.key}`, i));
    const results: CommitResult[] = batch.map(() => ({ replaced: [] }));
    const lost = new Set<number>();
    batch.forEach((v, i) => {
      const w = winner.get(`${v.bucket}\u0000${v.key}`)!;
      if (w !== i) { lost.add(i); results[w].replaced.push(v.versionId); }
    });
    const winners = [...winner.values()].map((i) => batch[i]);
    const byBucket = groupKeys(winners);

    const tx = new MultiStatement();
    // Lock the keys' current rows (sorted, so two coordinators lock in the same order) and learn
    // which versions this batch replaces; then retire them, add the new ones, repoint the keys.
    const selects = byBucket.map(([bucket, keys]) => tx.add(
      `SELECT object_key, version_id FROM objects WHERE bucket = ? AND object_key IN (${placeholders(keys.length, "?")}) FOR UPDATE`,
      [bucket, ...keys]));
    for (const [bucket, keys] of byBucket) {
      tx.add(`UPDATE versions v JOIN objects o ON v.version_id = o.version_id
                 SET v.state = 'trash', v.deleted_ms = ?, v.purge_ms = ?, v.reason = 'overwritten'
               WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")}) AND v.state = 'live'`,
      [nowMs, purgeMs, bucket, ...keys]);
    }
    const vals: (string | number | null)[] = [];
    batch.forEach((v, i) => {
      const l = lost.has(i);
      vals.push(v.versionId, v.bucket, v.key, v.size, v.sha256, v.etag, v.contentType,
        Object.keys(v.metadata).length ? JSON.stringify(v.metadata) : null,
        l ? "trash" : "live", "hot", v.replicas.join(","), v.createdMs, v.createdMs,
        l ? nowMs : null, l ? purgeMs : null, l ? "overwritten" : null);
    });
    tx.add(`INSERT INTO versions (version_id, bucket, object_key, size, sha256, etag, content_type, metadata, state, tier,
                                  replicas, created_ms, accessed_ms, deleted_ms, purge_ms, reason)
            VALUES ${placeholders(batch.length, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")}`, vals);
    tx.add(`INSERT INTO objects (bucket, object_key, version_id) VALUES ${placeholders(winners.length, "(?, ?, ?)")}
            ON DUPLICATE KEY UPDATE version_id = VALUES(version_id)`, winners.flatMap((v) => [v.bucket, v.key, v.versionId]));

    const out = await tx.run(this.pool);
    byBucket.forEach(([bucket], j) => {
      for (const r of out[selects[j]] as RowDataPacket[]) {
        results[winner.get(`${bucket}\u0000${(r.object_key as Buffer).toString("utf8")}`)!].replaced.push(r.version_id);
      }
    });
    return results;
  }

  /** One transaction for a batch of deletes (a key deleted twice in a batch is found once). */
  private async deleteBatch(batch: { bucket: string; key: string }[], nowMs = Date.now()): Promise<(VersionRow | null)[]> {
    const purgeMs = nowMs + this.trashTtlMs;
    const byBucket = groupKeys(batch);
    const tx = new MultiStatement();
    const selects = byBucket.map(([bucket, keys]) => tx.add(
      `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
        WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")}) FOR UPDATE`, [bucket, ...keys]));
    for (const [bucket, keys] of byBucket) {
      tx.add(`UPDATE versions v JOIN objects o ON v.version_id = o.version_id
                 SET v.state = 'trash', v.deleted_ms = ?, v.purge_ms = ?, v.reason = 'deleted'
               WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")})`, [nowMs, purgeMs, bucket, ...keys]);
      tx.add(`DELETE FROM objects WHERE bucket = ? AND object_key IN (${placeholders(keys.length, "?")})`, [bucket, ...keys]);
    }
    const out = await tx.run(this.pool);
    const found = new Map<string, VersionRow>();
    byBucket.forEach((_, j) => {
      for (const r of out[selects[j]] as RowDataPacket[]) {
        const v = toVersionRow(r);
        found.set(`${v.bucket}\u0000${v.key}`, { ...v, state: "trash", deletedMs: nowMs, purgeMs, reason: "deleted" });
      }
    });
    return batch.map(({ bucket, key }) => {
      const k = `${bucket}\u0000${key}`;
      const v = found.get(k) ?? null;
      found.delete(k); // a second delete of the same key in this batch finds nothing
      return v;
    });
  }
}

function moveStatement({ versionId, expect, to, oldCopies }: TierMove): { sql: string; params: (string | number)[] } {
  const params: (string | number)[] = [to.tier, to.replicas.join(","), oldCopies.join(",")];
  let sql = "UPDATE versions SET tier = ?, replicas = ?, cleanup = ?";
  if (to.accessedMs !== undefined) { sql += ", accessed_ms = ?"; params.push(to.accessedMs); }
  sql += " WHERE version_id = ? AND state = ? AND tier = ?";
  params.push(versionId, expect.state, expect.tier);
  if (expect.accessedMs !== undefined) { sql += " AND accessed_ms = ?"; params.push(expect.accessedMs); }
  return { sql, params };
}

/** The row a commit creates, as a lookup right after it would read it. */
function committedRow(v: NewVersion): VersionRow {
  return { ...v, state: "live", tier: "hot", cleanup: [], accessedMs: v.createdMs, deletedMs: null, purgeMs: null, reason: null };
}

/** Distinct keys per bucket, both sorted (a stable lock order across coordinators). */
function groupKeys(items: { bucket: string; key: string }[]): [string, string[]][] {
  const by = new Map<string, Set<string>>();
  for (const { bucket, key } of items) (by.get(bucket) ?? by.set(bucket, new Set()).get(bucket)!).add(key);
  return [...by].sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([b, keys]) => [b, [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))]);
}

/**
 * A transaction sent as one query (READ COMMITTED: no gap locks, so concurrent uploads of new
 * keys do not deadlock). add() returns the index of the statement's result in run()'s output.
 */
class MultiStatement {
  private readonly statements = ["SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "START TRANSACTION"];
  private readonly params: unknown[] = [];

  add(sql: string, params: unknown[]): number {
    this.statements.push(sql);
    this.params.push(...params);
    return this.statements.length - 1;
  }

  async run(pool: Pool): Promise<unknown[]> {
    const c = await pool.getConnection();
    try {
      const [out] = await c.query(this.statements.join(";\n") + ";\nCOMMIT", this.params);
      return out as unknown[];
    } catch (e) {
      // A failed statement stops the rest: the transaction is still open on this connection.
      await c.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }
}

/** A LIKE pattern matching keys that start with prefix (%, _ and \ escaped). */
function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => "\\" + c) + "%";
}
