import type { Pool, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { MultiStatement } from "../../common/db/multi-statement";
import { inTransaction } from "../../common/db/transaction";
import type { BytesTier, VersionRow, VersionState } from "../model/version-row";
import { toVersionRow, VERSION_COLUMNS } from "./version-columns";

// SQL for the catalogue's lookups and changes, one function per statement or transaction; the
// batch functions take a whole GroupCommit batch and answer one result per item, in order.
// `objects` says which version of a key is visible; every change of it happens here.

export interface ObjectKey {
  bucket: string;
  key: string;
}

/** What an upload commits once its replicas confirmed the bytes: the row's given fields. */
export type NewVersion = Pick<
  VersionRow,
  "versionId" | "bucket" | "key" | "size" | "sha256" | "etag" | "contentType" | "metadata" | "replicas" | "createdMs"
>;

export interface CommitResult {
  /** Versions this commit pushed to the trash (the key's previous version; same-batch losers). */
  replaced: string[];
}

/** A conditional tier move (see Catalogue.moveTier). */
export interface TierMove {
  versionId: string;
  expect: { state: VersionState; tier: BytesTier; accessedMs?: number };
  to: { tier: BytesTier; replicas: string[]; accessedMs?: number };
  oldCopies: string[];
}

export interface RestoreResult {
  restored: boolean;
  /** The key's visible version before, now in the trash. */
  replaced: string | null;
}

const placeholders = (n: number, group: string) => Array.from({ length: n }, () => group).join(", ");
const keyOf = (bucket: string, key: string) => `${bucket}\u0000${key}`;

/** The visible versions of keys, or null each. */
export async function selectCurrent(pool: Pool, batch: ObjectKey[]): Promise<(VersionRow | null)[]> {
  if (batch.length === 1) {
    const [rows] = await pool.execute<RowDataPacket[]>(
      `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
        WHERE o.bucket = ? AND o.object_key = ?`,
      [batch[0].bucket, batch[0].key],
    );
    return [rows.length ? toVersionRow(rows[0]) : null];
  }
  const found = new Map<string, VersionRow>();
  for (const [bucket, keys] of groupKeys(batch)) {
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
        WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")})`,
      [bucket, ...keys],
    );
    for (const r of rows) {
      const v = toVersionRow(r);
      found.set(keyOf(v.bucket, v.key), v);
    }
  }
  return batch.map(({ bucket, key }) => found.get(keyOf(bucket, key)) ?? null);
}

/** Versions by id, or null each. */
export async function selectVersions(pool: Pool, ids: string[]): Promise<(VersionRow | null)[]> {
  const [rows] =
    ids.length === 1
      ? await pool.execute<RowDataPacket[]>(`SELECT ${VERSION_COLUMNS} FROM versions v WHERE v.version_id = ?`, ids)
      : await pool.query<RowDataPacket[]>(
          `SELECT ${VERSION_COLUMNS} FROM versions v WHERE v.version_id IN (${placeholders(ids.length, "?")})`,
          ids,
        );
  const by = new Map(rows.map((r) => [r.version_id as string, toVersionRow(r)]));
  return ids.map((id) => by.get(id) ?? null);
}

/**
 * One transaction for a whole batch of upload commits, sent as one multi-statement query: on
 * this kind of machine a round trip to MariaDB costs more CPU than the statements themselves.
 */
export async function commitBatch(pool: Pool, batch: NewVersion[], nowMs: number, trashTtlMs: number): Promise<CommitResult[]> {
  const purgeMs = nowMs + trashTtlMs;
  // The last upload of a key in the batch wins; earlier ones go straight to the trash.
  const winner = new Map<string, number>();
  batch.forEach((v, i) => winner.set(keyOf(v.bucket, v.key), i));
  const results: CommitResult[] = batch.map(() => ({ replaced: [] }));
  const lost = new Set<number>();
  batch.forEach((v, i) => {
    const w = winner.get(keyOf(v.bucket, v.key))!;
    if (w !== i) {
      lost.add(i);
      results[w].replaced.push(v.versionId);
    }
  });
  const winners = [...winner.values()].map((i) => batch[i]);
  const byBucket = groupKeys(winners);

  const tx = new MultiStatement();
  // Lock the keys' current rows (sorted, so two coordinators lock in the same order) and learn
  // which versions this batch replaces; then retire them, add the new ones, repoint the keys.
  const selects = byBucket.map(([bucket, keys]) =>
    tx.add(`SELECT object_key, version_id FROM objects WHERE bucket = ? AND object_key IN (${placeholders(keys.length, "?")}) FOR UPDATE`, [
      bucket,
      ...keys,
    ]),
  );
  for (const [bucket, keys] of byBucket) {
    tx.add(
      `UPDATE versions v JOIN objects o ON v.version_id = o.version_id
               SET v.state = 'trash', v.deleted_ms = ?, v.purge_ms = ?, v.reason = 'overwritten'
             WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")}) AND v.state = 'live'`,
      [nowMs, purgeMs, bucket, ...keys],
    );
  }
  const vals: (string | number | null)[] = [];
  batch.forEach((v, i) => {
    const l = lost.has(i);
    vals.push(
      v.versionId,
      v.bucket,
      v.key,
      v.size,
      v.sha256,
      v.etag,
      v.contentType,
      Object.keys(v.metadata).length ? JSON.stringify(v.metadata) : null,
      l ? "trash" : "live",
      "hot",
      v.replicas.join(","),
      v.createdMs,
      v.createdMs,
      l ? nowMs : null,
      l ? purgeMs : null,
      l ? "overwritten" : null,
    );
  });
  tx.add(
    `INSERT INTO versions (version_id, bucket, object_key, size, sha256, etag, content_type, metadata, state, tier,
                                replicas, created_ms, accessed_ms, deleted_ms, purge_ms, reason)
          VALUES ${placeholders(batch.length, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")}`,
    vals,
  );
  tx.add(
    `INSERT INTO objects (bucket, object_key, version_id) VALUES ${placeholders(winners.length, "(?, ?, ?)")}
          ON DUPLICATE KEY UPDATE version_id = VALUES(version_id)`,
    winners.flatMap((v) => [v.bucket, v.key, v.versionId]),
  );

  const out = await tx.run(pool);
  byBucket.forEach(([bucket], j) => {
    for (const r of out[selects[j]] as RowDataPacket[]) {
      results[winner.get(keyOf(bucket, (r.object_key as Buffer).toString("utf8")))!].replaced.push(r.version_id);
    }
  });
  return results;
}

/** The row a commit creates, as a lookup right after it would read it. */
export function committedRow(v: NewVersion): VersionRow {
  return { ...v, state: "live", tier: "hot", cleanup: [], accessedMs: v.createdMs, deletedMs: null, purgeMs: null, reason: null };
}

/**
 * One transaction for a batch of deletes: each key's visible version goes to the trash, as it is
 * now (a key deleted twice in a batch is found once), or null.
 */
export async function deleteBatch(pool: Pool, batch: ObjectKey[], nowMs: number, trashTtlMs: number): Promise<(VersionRow | null)[]> {
  const purgeMs = nowMs + trashTtlMs;
  const byBucket = groupKeys(batch);
  const tx = new MultiStatement();
  const selects = byBucket.map(([bucket, keys]) =>
    tx.add(
      `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
      WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")}) FOR UPDATE`,
      [bucket, ...keys],
    ),
  );
  for (const [bucket, keys] of byBucket) {
    tx.add(
      `UPDATE versions v JOIN objects o ON v.version_id = o.version_id
               SET v.state = 'trash', v.deleted_ms = ?, v.purge_ms = ?, v.reason = 'deleted'
             WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")})`,
      [nowMs, purgeMs, bucket, ...keys],
    );
    tx.add(`DELETE FROM objects WHERE bucket = ? AND object_key IN (${placeholders(keys.length, "?")})`, [bucket, ...keys]);
  }
  const out = await tx.run(pool);
  const found = new Map<string, VersionRow>();
  byBucket.forEach((_, j) => {
    for (const r of out[selects[j]] as RowDataPacket[]) {
      const v = toVersionRow(r);
      found.set(keyOf(v.bucket, v.key), { ...v, state: "trash", deletedMs: nowMs, purgeMs, reason: "deleted" });
    }
  });
  return batch.map(({ bucket, key }) => {
    const k = keyOf(bucket, key);
    const v = found.get(k) ?? null;
    found.delete(k); // a second delete of the same key in this batch finds nothing
    return v;
  });
}

/**
 * Makes a trash version visible again under its key, only if its bytes are still in `expectTier`
 * (a trash move may have run); the key's visible version, if any, goes to the trash.
 */
export function restoreVersion(
  pool: Pool,
  versionId: string,
  expectTier: BytesTier,
  replicas: string[],
  cleanup: string[],
  nowMs: number,
  trashTtlMs: number,
): Promise<RestoreResult> {
  return inTransaction(
    pool,
    async (c) => {
      const [vr] = await c.execute<RowDataPacket[]>(
        "SELECT bucket, object_key FROM versions WHERE version_id = ? AND state = 'trash' AND tier = ? FOR UPDATE",
        [versionId, expectTier],
      );
      if (!vr.length) return { restored: false, replaced: null };
      const { bucket, object_key: key } = vr[0];
      const [cur] = await c.execute<RowDataPacket[]>("SELECT version_id FROM objects WHERE bucket = ? AND object_key = ? FOR UPDATE", [
        bucket,
        key,
      ]);
      const replaced: string | null = cur.length ? cur[0].version_id : null;
      if (replaced) {
        await c.execute("UPDATE versions SET state = 'trash', deleted_ms = ?, purge_ms = ?, reason = 'overwritten' WHERE version_id = ?", [
          nowMs,
          nowMs + trashTtlMs,
          replaced,
        ]);
      }
      await c.execute(
        `INSERT INTO objects (bucket, object_key, version_id) VALUES (?, ?, ?)
       ON DUPLICATE KEY UPDATE version_id = VALUES(version_id)`,
        [bucket, key, versionId],
      );
      await c.execute(
        `UPDATE versions SET state = 'live', tier = 'hot', replicas = ?, cleanup = ?, accessed_ms = ?,
              deleted_ms = NULL, purge_ms = NULL, reason = NULL WHERE version_id = ?`,
        [replicas.join(","), cleanup.join(","), nowMs, versionId],
      );
      return { restored: true, replaced };
    },
    { readCommitted: true },
  );
}

/** Concurrent lifecycle jobs' moves, as one transaction; each UPDATE still reports its own outcome. */
export async function moveBatch(pool: Pool, batch: TierMove[]): Promise<boolean[]> {
  if (batch.length === 1) {
    const { sql, params } = moveStatement(batch[0]);
    const [res] = await pool.execute<ResultSetHeader>(sql, params);
    return [res.affectedRows === 1];
  }
  const tx = new MultiStatement();
  const at = batch.map((m) => {
    const { sql, params } = moveStatement(m);
    return tx.add(sql, params);
  });
  const out = await tx.run(pool);
  return at.map((i) => (out[i] as ResultSetHeader).affectedRows === 1);
}

function moveStatement({ versionId, expect, to, oldCopies }: TierMove): { sql: string; params: (string | number)[] } {
  const params: (string | number)[] = [to.tier, to.replicas.join(","), oldCopies.join(",")];
  let sql = "UPDATE versions SET tier = ?, replicas = ?, cleanup = ?";
  if (to.accessedMs !== undefined) {
    sql += ", accessed_ms = ?";
    params.push(to.accessedMs);
  }
  sql += " WHERE version_id = ? AND state = ? AND tier = ?";
  params.push(versionId, expect.state, expect.tier);
  if (expect.accessedMs !== undefined) {
    sql += " AND accessed_ms = ?";
    params.push(expect.accessedMs);
  }
  return { sql, params };
}

export async function updateReplicas(pool: Pool, versionId: string, replicas: string[]): Promise<void> {
  await pool.execute("UPDATE versions SET replicas = ? WHERE version_id = ?", [replicas.join(","), versionId]);
}

export async function updateCleanup(pool: Pool, versionId: string, nodes: string[]): Promise<void> {
  await pool.execute("UPDATE versions SET cleanup = ? WHERE version_id = ?", [nodes.join(","), versionId]);
}

export async function clearCleanupBatch(pool: Pool, ids: string[]): Promise<void[]> {
  await pool.query(`UPDATE versions SET cleanup = '' WHERE version_id IN (${placeholders(ids.length, "?")})`, ids);
  return ids.map(() => undefined);
}

/** Deletes a version's row only if it is (still) in the trash; true if it did. */
export async function deleteTrashed(pool: Pool, versionId: string): Promise<boolean> {
  const [res] = await pool.execute<ResultSetHeader>("DELETE FROM versions WHERE version_id = ? AND state = 'trash'", [versionId]);
  return res.affectedRows === 1;
}

/** Last-access times of live versions (never moved back), one multi-row UPDATE per 500. */
export async function updateAccessTimes(pool: Pool, times: ReadonlyMap<string, number>): Promise<void> {
  const entries = [...times];
  for (let i = 0; i < entries.length; i += 500) {
    const part = entries.slice(i, i + 500);
    const cases = part.map(() => "WHEN ? THEN ?").join(" ");
    await pool.query(
      `UPDATE versions SET accessed_ms = GREATEST(accessed_ms, CASE version_id ${cases} END)
        WHERE state = 'live' AND version_id IN (${placeholders(part.length, "?")})`,
      [...part.flat(), ...part.map(([id]) => id)],
    );
  }
}

/** Distinct keys per bucket, both sorted (a stable lock order across coordinators). */
function groupKeys(items: ObjectKey[]): [string, string[]][] {
  const by = new Map<string, Set<string>>();
  for (const { bucket, key } of items) (by.get(bucket) ?? by.set(bucket, new Set()).get(bucket)!).add(key);
  return [...by]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([b, keys]) => [b, [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))]);
}
