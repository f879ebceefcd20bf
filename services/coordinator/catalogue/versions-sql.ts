import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { MultiStatement, type SendFence } from "../../common/db/multi-statement";
import { inTransaction } from "../../common/db/transaction";
import type { BytesTier, VersionRow, VersionState } from "../model/version-row";
import { BUCKET_ROW_SQL } from "./buckets-sql";
import { addIdOn, addIds, removeIds, type Assignment } from "./id-lists-sql";
import { toVersionRow, VERSION_COLUMNS } from "./version-columns";

// SQL for the catalogue's lookups and changes, one function per statement or transaction; the
// batch functions take a whole GroupCommit batch and answer one result per item, in order.
// `objects` says which version of a key is visible; every change of it happens here.

export interface ObjectKey {
  bucket: string;
  key: string;
}

/** MariaDB's clock, in epoch ms. */
export const NOW_MS = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED)";
/**
 * Versions go to the trash at a time read from MariaDB's clock inside their transaction, once the
 * keys are locked, not at the coordinator's reading of it. Which version an undelete brings back is
 * the latest delete time, and each coordinator carries its own reading forward (catalogue-clock.ts):
 * two readings run some ms apart, so an undelete and then a delete through two coordinators ms apart
 * sorted the wrong way round. A delete reads the time (TRASH_CLOCK, into @trashed_at) to answer it;
 * a commit's UPDATE takes NOW(3) itself, one statement less per commit batch (MariaDB fixes NOW(3)
 * when a statement starts: the UPDATE starts after the key locks are held).
 */
const TRASH_CLOCK = `SELECT @trashed_at := ${NOW_MS} AS ms`;
/** The delete and purge times of a version trashed now (the TTL its parameter); `alias` its table's. */
const trashedNow = (at: string, alias = "") => `${alias}deleted_ms = ${at}, ${alias}purge_ms = ${at} + ?`;

/** What an upload commits once its replicas confirmed the bytes: the row's given fields. */
export type NewVersion = Pick<
  VersionRow,
  "versionId" | "bucket" | "key" | "size" | "sha256" | "etag" | "contentType" | "metadata" | "replicas" | "createdMs"
>;

/**
 * The id of the request asking for a change (null: none): written on the versions the change sends
 * to the trash, whose trash move and purge then run under it (VersionRow.requestId).
 */
export interface Requested {
  requestId: string | null;
}

/**
 * A multipart Complete's claim on its upload (multipart-sql.ts beginComplete): the upload's row
 * must still be `completing` with the `state_ms` this Complete marked when its version commits. A
 * takeover marks a later time, an Abort deletes the row: a Complete stalled past its takeover time
 * (SIGSTOP) then commits nothing, and only one version of the key is made.
 */
export interface MultipartFence {
  uploadId: string;
  stateMs: number;
}

/** An upload commit as a batch takes it: the version, its request, and for a multipart Complete its fence. */
export type CommitItem = NewVersion & Requested & { completes?: MultipartFence };

/** The text of the error a commit whose multipart fence failed answers with (isTakenOver). */
const TAKEN_OVER = "minis3: the multipart upload was taken over or aborted";

/** Whether a commit failed because its multipart Complete's upload is no longer its own (nothing committed). */
export function isTakenOver(e: unknown): boolean {
  const err = e as { errno?: unknown; message?: unknown };
  return err?.errno === 1644 && typeof err.message === "string" && err.message.includes(TAKEN_OVER);
}

export interface CommitResult {
  /** Versions this commit pushed to the trash (the key's previous version; same-batch losers). */
  replaced: string[];
}

/** A conditional tier move (see Catalogue.moveTier). */
export interface TierMove {
  versionId: string;
  /** The row as the job read it: its generation, and (for readers of the code) its state and tier. */
  expect: { state: VersionState; tier: BytesTier; gen: number; accessedMs?: number };
  to: { tier: BytesTier; replicas: string[]; accessedMs?: number };
  oldCopies: string[];
}

export interface RestoreResult {
  restored: boolean;
  /** The key's visible version before, now in the trash (the first, should there be several). */
  replaced: string | null;
  /** Not restored because the key has a visible version and the restore was only if it had none. */
  keyIsLive?: boolean;
}

/** Thrown inside a restore's transaction to roll its key lock back when the key turned out live. */
const KEY_IS_LIVE = new Error("minis3: the key has a visible version");

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
export function commitBatch(pool: Pool, batch: CommitItem[], nowMs: number, trashTtlMs: number): Promise<CommitResult[]> {
  return alone(pool, (tx) => addCommits(tx, batch, nowMs, trashTtlMs));
}

/** One transaction of the statements `add` puts in it; its results as `add` reads them. */
async function alone<R>(pool: Pool, add: (tx: MultiStatement) => (out: unknown[]) => R): Promise<R> {
  const tx = new MultiStatement();
  const results = add(tx);
  return results(await tx.run(pool));
}

/**
 * A batch of upload commits' statements added to `tx`; answers how to read their results from
 * the transaction's output.
 */
function addCommits(tx: MultiStatement, batch: CommitItem[], nowMs: number, trashTtlMs: number): (out: unknown[]) => CommitResult[] {
  const purgeMs = nowMs + trashTtlMs;
  addMultipartFences(tx, batch);
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
  // The version a key's winner replaces goes to the trash under the winner's request id.
  const requestOf = (bucket: string, key: string) => batch[winner.get(keyOf(bucket, key))!].requestId;

  // A bucket gets its row with its first object, whichever door it came through (sorted: the same
  // lock order in every coordinator). A row that exists is only share-locked: commits do not wait on each other.
  const buckets = [...new Set(winners.map((v) => v.bucket))].sort();
  tx.add(
    `${BUCKET_ROW_SQL}${placeholders(buckets.length, "(?, ?, '')")}`,
    buckets.flatMap((b) => [b, nowMs]),
  );
  // Point the keys at their new versions first: the row lock on each key (taken by the insert even
  // when the key is new, sorted so two coordinators lock in the same order) serializes everyone
  // who makes a version of it live. Only then look for the live versions to retire: read by key,
  // not through `objects`, so a concurrent first write that committed meanwhile is found too
  // (under READ COMMITTED the old lock-then-read through `objects` missed it: review finding 12).
  tx.add(
    `INSERT INTO objects (bucket, object_key, version_id) VALUES ${placeholders(winners.length, "(?, ?, ?)")}
          ON DUPLICATE KEY UPDATE version_id = VALUES(version_id)`,
    sortedByKey(winners).flatMap((v) => [v.bucket, v.key, v.versionId]),
  );
  const selects = byBucket.map(([bucket, keys]) => {
    const where = `bucket = ? AND object_key IN (${placeholders(keys.length, "?")}) AND state = 'live'`;
    const at = tx.add(`SELECT object_key, version_id FROM versions WHERE ${where} FOR UPDATE`, [bucket, ...keys]);
    const requests = perKey("request_id", "object_key", bucket, keys, requestOf);
    tx.add(
      `UPDATE versions SET state = 'trash', ${trashedNow(NOW_MS)}, reason = 'overwritten', ${requests.sql}, gen = gen + 1
        WHERE ${where}`,
      [trashTtlMs, ...requests.params, bucket, ...keys],
    );
    return at;
  });
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
      l ? requestOf(v.bucket, v.key) : null,
    );
  });
  tx.add(
    `INSERT INTO versions (version_id, bucket, object_key, size, sha256, etag, content_type, metadata, state, tier,
                                replicas, created_ms, accessed_ms, deleted_ms, purge_ms, reason, request_id)
          VALUES ${placeholders(batch.length, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")}`,
    vals,
  );

  return (out) => {
    byBucket.forEach(([bucket], j) => {
      for (const r of out[selects[j]] as RowDataPacket[]) {
        results[winner.get(keyOf(bucket, (r.object_key as Buffer).toString("utf8")))!].replaced.push(r.version_id);
      }
    });
    return results;
  };
}

/**
 * A multipart Complete's upload row, locked first (in upload id order) and marked completed naming
 * its version, only while it is still `completing` with the time this Complete marked (its fence);
 * else the statement after it raises TAKEN_OVER, and the whole transaction is rolled back. Its part
 * rows go with it (the caller drops their blobs). In the commit's own round trip: before 2026-12-07
 * the row was marked completed in a transaction of its own after the version had committed, and a
 * Complete stalled past its takeover time committed a second version of the key.
 */
function addMultipartFences(tx: MultiStatement, batch: CommitItem[]): void {
  const fenced = batch.filter((v) => v.completes).sort((a, b) => (a.completes!.uploadId < b.completes!.uploadId ? -1 : 1));
  for (const v of fenced) {
    const { uploadId, stateMs } = v.completes!;
    tx.add(
      `UPDATE multipart_uploads SET state = 'completed', state_ms = ${NOW_MS}, version_id = ?, etag = ?
        WHERE upload_id = ? AND state = 'completing' AND state_ms = ?`,
      [v.versionId, v.etag, uploadId, stateMs],
    );
    // MariaDB runs IF … END IF outside a stored program; a failed statement ends the transaction (MultiStatement).
    tx.add(`IF ROW_COUNT() = 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '${TAKEN_OVER}'; END IF`, []);
    tx.add("DELETE FROM multipart_parts WHERE upload_id = ?", [uploadId]);
  }
}

/**
 * A new version's own fields, copied by name. Not `{ ...v, more }`: in this V8 (Node 20) a spread
 * copy given properties `v` lacks builds new hidden classes every time, ~1.5 us per added property
 * (committedRow's ten cost 12-16 us a call and 4 % of the busy coordinator's allocations in an
 * overwrite run, 2026-12-03); properties added to a literal's copy take V8's cached transitions.
 */
function ownFields(v: NewVersion): NewVersion {
  return {
    versionId: v.versionId,
    bucket: v.bucket,
    key: v.key,
    size: v.size,
    sha256: v.sha256,
    etag: v.etag,
    contentType: v.contentType,
    metadata: v.metadata,
    replicas: v.replicas,
    createdMs: v.createdMs,
  };
}

/** A new version with the request that commits it (what a commit's KeyChange carries). */
export function requestedVersion(v: NewVersion, requestId: string | null): NewVersion & Requested {
  return Object.assign(ownFields(v), { requestId });
}

/** The row a commit creates, as a lookup right after it would read it. */
export function committedRow(v: NewVersion): VersionRow {
  const committed: Omit<VersionRow, keyof NewVersion> = {
    state: "live",
    tier: "hot",
    cleanup: [],
    accessedMs: v.createdMs,
    deletedMs: null,
    purgeMs: null,
    reason: null,
    gen: 0,
    requestId: null,
  };
  return Object.assign(ownFields(v), committed);
}

/**
 * A delete of a key's visible version; with `onlyVersion`, only if that is the key's visible version
 * when the delete commits (S3's DeleteObject naming a version: checked earlier, a PUT committing in
 * between had its new version trashed in place of the one named).
 */
export type KeyDelete = ObjectKey & Requested & { onlyVersion?: string };

/**
 * One transaction for a batch of deletes: each key's visible version goes to the trash, as it is
 * now (a key deleted twice in a batch is found once), or null (none, or not the one it names).
 * Trashed at MariaDB's clock.
 */
export function deleteBatch(pool: Pool, batch: KeyDelete[], trashTtlMs: number): Promise<(VersionRow | null)[]> {
  return alone(pool, (tx) => addDeletes(tx, batch, trashTtlMs));
}

/**
 * A batch of deletes' statements added to `tx`; answers how to read their results from its output.
 * A delete naming a version shares no batch with another delete of its key (keyChangeFits).
 */
function addDeletes(tx: MultiStatement, batch: KeyDelete[], trashTtlMs: number): (out: unknown[]) => (VersionRow | null)[] {
  const byBucket = groupKeys(batch);
  // The version each conditional delete names, by key. Its condition goes in the UPDATE and the
  // DELETE themselves, under the lock the SELECT takes on every key of the batch: no round trip
  // more, and nothing can change the key between the check and the change.
  const named = new Map<string, string>();
  for (const d of batch) if (d.onlyVersion !== undefined) named.set(keyOf(d.bucket, d.key), d.onlyVersion);
  const picked = (bucket: string, key: string, versionId: string) => {
    const only = named.get(keyOf(bucket, key));
    return only === undefined || only === versionId;
  };
  // A key deleted twice in the batch goes to the trash under its first delete's id (found once, by that one).
  const requests = new Map<string, string | null>();
  for (const d of batch) if (!requests.has(keyOf(d.bucket, d.key))) requests.set(keyOf(d.bucket, d.key), d.requestId);
  const requestOf = (bucket: string, key: string) => requests.get(keyOf(bucket, key))!;
  const selects = byBucket.map(([bucket, keys]) =>
    tx.add(
      `SELECT ${VERSION_COLUMNS} FROM objects o JOIN versions v ON v.version_id = o.version_id
      WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")}) FOR UPDATE`,
      [bucket, ...keys],
    ),
  );
  const clock = tx.add(TRASH_CLOCK, []);
  for (const [bucket, keys] of byBucket) {
    const requests = perKey("v.request_id", "o.object_key", bucket, keys, requestOf);
    const only = onlyNamed(bucket, keys, named, "o.");
    tx.add(
      `UPDATE versions v JOIN objects o ON v.version_id = o.version_id
               SET v.state = 'trash', ${trashedNow("@trashed_at", "v.")}, v.reason = 'deleted', ${requests.sql}, v.gen = v.gen + 1
             WHERE o.bucket = ? AND o.object_key IN (${placeholders(keys.length, "?")})${only.sql}`,
      [trashTtlMs, ...requests.params, bucket, ...keys, ...only.params],
    );
    const objectsOnly = onlyNamed(bucket, keys, named, "");
    tx.add(`DELETE FROM objects WHERE bucket = ? AND object_key IN (${placeholders(keys.length, "?")})${objectsOnly.sql}`, [
      bucket,
      ...keys,
      ...objectsOnly.params,
    ]);
  }
  return (out) => {
    const deletedMs = Number((out[clock] as RowDataPacket[])[0].ms);
    const found = new Map<string, VersionRow>();
    byBucket.forEach((_, j) => {
      for (const r of out[selects[j]] as RowDataPacket[]) {
        const v = toVersionRow(r);
        if (!picked(v.bucket, v.key, v.versionId)) continue; // locked, left as it is
        const requestId = requestOf(v.bucket, v.key);
        found.set(keyOf(v.bucket, v.key), {
          ...v,
          state: "trash",
          deletedMs,
          purgeMs: deletedMs + trashTtlMs,
          reason: "deleted",
          gen: v.gen + 1,
          requestId,
        });
      }
    });
    return batch.map(({ bucket, key }) => {
      const k = keyOf(bucket, key);
      const v = found.get(k) ?? null;
      found.delete(k); // a second delete of the same key in this batch finds nothing
      return v;
    });
  };
}

/**
 * The condition (after a bucket's `object_key IN (keys)`) that leaves out the keys of `keys` whose
 * delete names another version than the visible one; "" when none names one (the usual DELETE).
 * Each key with the version it names, as a pair: a client may name another key's version.
 */
function onlyNamed(bucket: string, keys: string[], named: Map<string, string>, alias: string): { sql: string; params: string[] } {
  if (!named.size) return { sql: "", params: [] };
  const pairs: string[] = [];
  const anyVersion: string[] = [];
  for (const k of keys) {
    const v = named.get(keyOf(bucket, k));
    if (v === undefined) anyVersion.push(k);
    else pairs.push(k, v);
  }
  if (!pairs.length) return { sql: "", params: [] };
  const ofPairs = `(${alias}object_key, ${alias}version_id) IN (${placeholders(pairs.length / 2, "(?, ?)")})`;
  if (!anyVersion.length) return { sql: ` AND ${ofPairs}`, params: pairs };
  return {
    sql: ` AND (${ofPairs} OR ${alias}object_key IN (${placeholders(anyVersion.length, "?")}))`,
    params: [...pairs, ...anyVersion],
  };
}

/** An upload's commit or a delete: the two changes of which version a key shows, grouped together. */
export type KeyChange = { kind: "commit"; version: CommitItem } | { kind: "delete"; key: KeyDelete };

/** What a KeyChange answers: a commit's CommitResult, a delete's trashed version (or null). */
export type KeyChangeResult = CommitResult | VersionRow | null;

/**
 * Whether `next` may join a batch of key changes: not when the batch changes its key the other
 * way (a commit and a delete of one key in one transaction would not say which came first; the
 * later one waits for the next batch). Two commits, or two deletes naming no version, of one key
 * are each kind's own.
 */
export function keyChangeFits(batch: readonly KeyChange[], next: KeyChange): boolean {
  const k = keyChangeKey(next);
  return !batch.some((c) => (c.kind !== next.kind || namesVersion(c) || namesVersion(next)) && keyChangeKey(c) === k);
}

/**
 * A delete naming a version waits for the next batch after any other delete of its key, and the
 * other way round: which of them trashes the version, under whose request, is then the order they
 * came in (addDeletes finds a key's version once, for its first delete).
 */
const namesVersion = (c: KeyChange) => c.kind === "delete" && c.key.onlyVersion !== undefined;

function keyChangeKey(c: KeyChange): string {
  return c.kind === "commit" ? keyOf(c.version.bucket, c.version.key) : keyOf(c.key.bucket, c.key.key);
}

/**
 * Commits and deletes of a batch as ONE transaction (the commits' statements, then the deletes'):
 * deletes alone gathered 1.4 to a transaction in the overwrite bench (each a MariaDB round trip and
 * a redo-log flush) while commits gathered 5. No key is both committed and deleted in one batch
 * (keyChangeFits). Each kind keeps its sorted lock order; two coordinators' batches may still lock
 * each other's keys in opposite orders, and the deadlock that makes is retried (withRetry).
 */
export function keyChangeBatch(pool: Pool, batch: KeyChange[], nowMs: number, trashTtlMs: number): Promise<KeyChangeResult[]> {
  const commits: CommitItem[] = [];
  const deletes: KeyDelete[] = [];
  for (const c of batch) {
    if (c.kind === "commit") commits.push(c.version);
    else deletes.push(c.key);
  }
  return alone(pool, (tx) => {
    const committed = commits.length ? addCommits(tx, commits, nowMs, trashTtlMs) : () => [];
    const deleted = deletes.length ? addDeletes(tx, deletes, trashTtlMs) : () => [];
    return (out) => {
      const c = committed(out)[Symbol.iterator]();
      const d = deleted(out)[Symbol.iterator]();
      return batch.map((x) => (x.kind === "commit" ? c.next().value! : d.next().value!));
    };
  });
}

/**
 * Makes a trash version visible again under its key, only if it is unchanged since it was read (its
 * generation: its bytes are still in the tier read, no purge began, no undelete and re-delete
 * passed) and its purge time is still ahead on the catalogue's clock (MariaDB's own, not the
 * caller's); the key's visible version, if any, goes to the trash (under `requestId`). `cleanup`
 * joins the copies already pending.
 */
export function restoreVersion(
  pool: Pool,
  trashed: Pick<VersionRow, "versionId" | "tier" | "gen">,
  replicas: string[],
  cleanup: string[],
  nowMs: number,
  trashTtlMs: number,
  requestId: string | null,
  onlyIfNoneLive = false,
): Promise<RestoreResult> {
  const { versionId } = trashed;
  const restoring = inTransaction(
    pool,
    async (c) => {
      const [vr] = await c.execute<RowDataPacket[]>(
        `SELECT bucket, object_key FROM versions
          WHERE version_id = ? AND state = 'trash' AND tier = ? AND gen = ?
            AND purge_ms > ${NOW_MS} FOR UPDATE`,
        [versionId, trashed.tier, trashed.gen],
      );
      if (!vr.length) return { restored: false, replaced: null };
      const { bucket, object_key: key } = vr[0];
      // Its bucket may have been deleted since (the trash does not keep a bucket): it comes back.
      await c.execute(`${BUCKET_ROW_SQL}(?, ?, '')`, [bucket, nowMs]);
      // The key's lock first, then its live versions (as a commit does: review finding 12).
      await c.execute(
        `INSERT INTO objects (bucket, object_key, version_id) VALUES (?, ?, ?)
       ON DUPLICATE KEY UPDATE version_id = VALUES(version_id)`,
        [bucket, key, versionId],
      );
      const live = "bucket = ? AND object_key = ? AND state = 'live'";
      const [cur] = await c.execute<RowDataPacket[]>(`SELECT version_id FROM versions WHERE ${live} FOR UPDATE`, [bucket, key]);
      // Read under the key's lock, so a version committed since the caller looked counts too.
      if (cur.length && onlyIfNoneLive) throw KEY_IS_LIVE;
      if (cur.length) {
        await c.execute(
          `UPDATE versions SET state = 'trash', ${trashedNow(NOW_MS)}, reason = 'overwritten', request_id = ?, gen = gen + 1
            WHERE ${live}`,
          [trashTtlMs, requestId, bucket, key],
        );
      }
      const merge = addIds(
        "cleanup",
        cleanup.filter((id) => !replicas.includes(id)),
      );
      await c.execute(
        `UPDATE versions SET state = 'live', tier = 'hot', replicas = ?, ${setSql([...removeIds("cleanup", replicas), ...merge])}
              accessed_ms = ?, deleted_ms = NULL, purge_ms = NULL, reason = NULL, request_id = NULL, gen = gen + 1
            WHERE version_id = ?`,
        [replicas.join(","), ...setParams([...removeIds("cleanup", replicas), ...merge]), nowMs, versionId],
      );
      return { restored: true, replaced: cur.length ? cur[0].version_id : null };
    },
    { readCommitted: true },
  );
  return restoring.catch((e: unknown) => {
    if (e === KEY_IS_LIVE) return { restored: false, replaced: null, keyIsLive: true };
    throw e;
  });
}

/** Concurrent lifecycle jobs' moves, as one transaction; each UPDATE still reports its own outcome. */
export async function moveBatch(pool: Pool, batch: TierMove[]): Promise<boolean[]> {
  if (batch.length === 1) {
    const { where, params } = moveWhere(batch);
    const set = moveSet(batch);
    const [res] = await pool.execute<ResultSetHeader>(`UPDATE versions SET ${set.sql} WHERE ${where}`, [...set.params, ...params]);
    return [res.affectedRows === 1];
  }
  const tx = new MultiStatement();
  const moved = addMoves(tx, batch);
  return moved(await tx.run(pool));
}

/**
 * moveBatch, and in its round trip (after its COMMIT) a new transaction that starts with `next`
 * (see MultiStatement.runThen): answers each move's outcome, `next`'s result and the connection,
 * still in that transaction, for the caller to end and release.
 */
export async function moveBatchThen(
  pool: Pool,
  batch: TierMove[],
  next: { sql: string; params: unknown[] },
  fence?: SendFence,
): Promise<{ moved: boolean[]; nextOut: unknown; conn: PoolConnection }> {
  const tx = new MultiStatement();
  const moved = addMoves(tx, batch);
  const { out, nextAt, conn } = await tx.runThen(pool, next.sql, next.params, fence);
  return { moved: moved(out), nextOut: out[nextAt], conn };
}

/** A batch of moves' statements added to `tx`; answers how to read each move's outcome from its output. */
function addMoves(tx: MultiStatement, batch: TierMove[]): (out: unknown[]) => boolean[] {
  // A version twice in one batch: its later moves go in a later round, after the first committed
  // or lost, as they would one statement each.
  const rounds: { ids: Set<string>; shapes: Map<string, number[]> }[] = [];
  batch.forEach((m, i) => {
    let round = rounds.find((r) => !r.ids.has(m.versionId));
    if (!round) rounds.push((round = { ids: new Set(), shapes: new Map() }));
    round.ids.add(m.versionId);
    const shape = moveShape(m);
    (round.shapes.get(shape) ?? round.shapes.set(shape, []).get(shape)!).push(i);
  });
  const locks = rounds.flatMap((round) =>
    [...round.shapes.values()].map((items) => {
      const moves = items.map((i) => batch[i]);
      const set = moveSet(moves);
      const change = { sql: `UPDATE versions SET ${set.sql}`, params: set.params };
      return { items, at: lockThenChange(tx, moveLock(moves), change, moveWhere(moves)) };
    }),
  );
  return (out) => {
    const moved = batch.map(() => false);
    for (const { items, at } of locks) {
      const hit = new Set((out[at] as RowDataPacket[]).map((r) => r.version_id as string));
      for (const i of items) moved[i] = hit.has(batch[i].versionId);
    }
    return moved;
  };
}

/**
 * Moves that can share one statement: the same change of tier and replicas, from the same state and
 * tier (a batch of demotions: one per set of new replicas; of trash moves: one). A statement per move
 * cost MariaDB a parse and a plan apiece, up to 256 per transaction as moves come due. The old copies
 * are each row's own (moveSet): with them in the shape, a batch of trash moves off three storage
 * nodes took a lock and an UPDATE per pair of old copies, 2-7 of each per batch (`strace` of the
 * overwrite row, 2026-12-03: ~4 shapes per batch).
 */
function moveShape({ expect, to }: TierMove): string {
  // Not JSON.stringify of an array: a fresh array and its serialisation per move, ~0.4 % of the
  // coordinator's samples in the lifecycle bench's trash phase (2026-12-07). State, tier and node
  // ids carry no "|" or ",".
  const times = (expect.accessedMs !== undefined ? "a" : "-") + (to.accessedMs !== undefined ? "a" : "-");
  return `${expect.state}|${expect.tier}|${to.tier}|${times}|${to.replicas.join(",")}`;
}

/**
 * The lock of moveWhere's rows, each version's expected generation (and access time) in one JSON
 * parameter joined by the primary key, in id order (the order the range read of an id list locked
 * them). It was moveWhere's CASE over the ids: 2-3 literals per version to parse and, for 256-512
 * versions, ~n²/2 compares per CASE (bench/README.md "The lifecycle's batches without the CASE").
 */
function moveLock(moves: TierMove[]): { sql: string; params: (string | number)[] } {
  const { state, tier, accessedMs } = moves[0].expect;
  const withAccess = accessedMs !== undefined;
  const rows = sortedById(moves.map((m) => expectedOf(m, withAccess)));
  return {
    sql: `SELECT v.version_id FROM ${listedVersions(withAccess)}
      WHERE v.state = ? AND v.tier = ? AND v.gen = e.gen${withAccess ? " AND v.accessed_ms = e.at" : ""} FOR UPDATE`,
    params: [JSON.stringify(rows), state, tier],
  };
}

/**
 * The table `e` of a JSON array of [version id, generation, access time?] as read, one parameter,
 * joined to `versions v`: each row found by eq_ref on PRIMARY.
 */
function listedVersions(withAccess: boolean): string {
  const at = withAccess ? ", at BIGINT PATH '$[2]'" : "";
  return `JSON_TABLE(?, '$[*]' COLUMNS (id CHAR(28) CHARACTER SET ascii PATH '$[0]', gen BIGINT PATH '$[1]'${at})) e
    ${LIST_FIRST} ON v.version_id = e.id`;
}

/**
 * How a JSON list joins `versions v`: the list first (STRAIGHT_JOIN), each version by its primary
 * key, so a batch reads and locks the versions it names, in the list's order (id order), whatever
 * the optimizer guesses of the table: on a catalogue of a few rows it read the table first (the
 * access times' UPDATE by versions_by_purge's `state`), and under load the purge marks' lock now and
 * then chose versions_by_purge's due range, which locks every due row, not the batch's
 * (batch-plans.test.ts; catalogue.test.ts's 300-row plan test failed about once in a busy run).
 */
const LIST_FIRST = "STRAIGHT_JOIN versions v FORCE INDEX (PRIMARY)";

/** Rows whose first element is a version id, in id order. */
function sortedById<R extends [string, ...unknown[]]>(rows: R[]): R[] {
  return rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The rows of moves of one shape, each only if unchanged since its job read it: its generation,
 * and the access time for a demotion (a read recorded since wins). The UPDATE does not join the
 * lock's JSON_TABLE: joined, a multi-table UPDATE evaluates every SET from the row as it was
 * (MariaDB 10.11: `c = f(c), c = g(c)` kept g only), and moveSet chains several assignments to
 * `cleanup`. For several moves, each row's id with what it must still hold, as a list of row values
 * (`(version_id, gen) IN ((?, ?), …)`): MariaDB sorts the list once and finds each row in it by a
 * binary search, and reads the ids' range of PRIMARY from it. It was `version_id IN (…) AND gen =
 * CASE version_id WHEN ? THEN ? … END`, one WHEN per move tried in turn for each row (~n²/2
 * compares) and every id twice to parse. MariaDB's CPU a move (private server, all its threads,
 * the two forms alternated batch by batch, 36 pairs a run; bench/micro/trash-move.ts's batches):
 * 256 trash moves a batch 30.9-36.3 -> 26.6-29.8 µs (four runs), 64 a batch 53.2 -> 47.7, 256
 * demotions 52.0 -> 43.7 (2026-12-07).
 */
function moveWhere(moves: TierMove[]): { where: string; params: (string | number)[] } {
  const { state, tier, accessedMs } = moves[0].expect;
  const withAccess = accessedMs !== undefined;
  if (moves.length === 1) {
    const [m] = moves;
    return {
      where: `version_id = ? AND state = ? AND tier = ? AND gen = ?${withAccess ? " AND accessed_ms = ?" : ""}`,
      params: [m.versionId, state, tier, m.expect.gen, ...(withAccess ? [m.expect.accessedMs!] : [])],
    };
  }
  const columns = withAccess ? "(version_id, gen, accessed_ms)" : "(version_id, gen)";
  return {
    where: `${columns} IN (${placeholders(moves.length, withAccess ? "(?, ?, ?)" : "(?, ?)")}) AND state = ? AND tier = ?`,
    params: [...moves.flatMap((m) => expectedOf(m, withAccess)), state, tier],
  };
}

/** What a move's row must still hold: its id, generation and (for a demotion) access time, as the lock and the UPDATE name them. */
function expectedOf(m: TierMove, withAccess: boolean): [string, ...number[]] {
  return withAccess ? [m.versionId, m.expect.gen, m.expect.accessedMs!] : [m.versionId, m.expect.gen];
}

/**
 * The change of moves of one shape. The old copies join those already pending in `cleanup`, as
 * the row holds them when it changes (a move used to overwrite them, and the copies of a node away
 * during a repair were never deleted: review finding 7), each row its own (an id not every move
 * names is added on the rows that name it only); the new replicas leave it.
 */
function moveSet(moves: TierMove[]): { sql: string; params: (string | number)[] } {
  const { to } = moves[0];
  // Each old copy, in the order the moves first name them, and the moves naming it.
  const naming = new Map<string, string[]>();
  for (const m of moves) {
    for (const id of new Set(m.oldCopies)) {
      if (!to.replicas.includes(id)) (naming.get(id) ?? naming.set(id, []).get(id)!).push(m.versionId);
    }
  }
  const cleanup = [
    ...removeIds("cleanup", to.replicas),
    ...[...naming].flatMap(([id, ids]) => (ids.length === moves.length ? addIds("cleanup", [id]) : [addIdOn("cleanup", id, ids)])),
  ];
  const params: (string | number)[] = [to.tier, to.replicas.join(","), ...setParams(cleanup)];
  let sql = `tier = ?, replicas = ?, ${setSql(cleanup)} gen = gen + 1`;
  if (to.accessedMs !== undefined) {
    sql += `, ${perVersion("accessed_ms", moves.length)}`;
    params.push(...moves.flatMap((m) => (moves.length === 1 ? [m.to.accessedMs!] : [m.versionId, m.to.accessedMs!])));
  }
  return { sql, params };
}

/** `column = ?` for one version; for several, each version's own value by a CASE on its id. */
function perVersion(column: string, n: number): string {
  return n === 1 ? `${column} = ?` : `${column} = CASE version_id ${Array.from({ length: n }, () => "WHEN ? THEN ?").join(" ")} END`;
}

/**
 * `column = ?` when every key of a bucket's group has the same value (one key; or none named a
 * request), else each key's own by a CASE on the key: a commit or delete batch is many requests'.
 */
function perKey(
  column: string,
  keyColumn: string,
  bucket: string,
  keys: string[],
  valueOf: (bucket: string, key: string) => string | null,
): { sql: string; params: (string | null)[] } {
  const values = keys.map((k) => valueOf(bucket, k));
  if (values.every((x) => x === values[0])) return { sql: `${column} = ?`, params: [values[0]] };
  return {
    sql: `${column} = CASE ${keyColumn} ${keys.map(() => "WHEN ? THEN ?").join(" ")} END`,
    params: keys.flatMap((k, i) => [k, values[i]]),
  };
}

/** A purge about to begin: the version as read (its generation). */
export interface PurgeMark {
  versionId: string;
  gen: number;
}

/**
 * A purge begins: each version leaves the trash for `purging`, only if unchanged since read and
 * due on MariaDB's own clock, as a restore checks it, so no undelete can bring it back while its
 * bytes go (review finding 13). Not on the caller's reading of that clock: a reading taken while the
 * pool had no free connection runs ahead by half the wait, and marked versions a restore would still
 * have brought back. One transaction for the batch.
 */
export async function markPurgingBatch(pool: Pool, batch: PurgeMark[]): Promise<boolean[]> {
  const first = firstOfEach(batch.map((m) => m.versionId));
  const gens = [...first.keys()].map((id) => batch[first.get(id)!].gen);
  const ids = [...first.keys()];
  // Each id's generation as read, one JSON parameter joined by the primary key (in id order, the
  // order the range read of the id list locked them), in the lock and in the UPDATE (whose one SET
  // per column reads the row as it was, as a multi-table UPDATE does). It was a CASE over the ids:
  // ~n²/2 compares per statement for the 256 marks of a batch (bench/README.md "The lifecycle's
  // batches without the CASE").
  const rows = JSON.stringify(sortedById(ids.map((id, i): [string, number] => [id, gens[i]])));
  const from = listedVersions(false);
  // One reading of MariaDB's clock for both statements: each statement fixes NOW(3) as it starts, so
  // a version coming due while the first waited for a row lock was left unlocked by it and marked by
  // the second, answered as not marked.
  const where = `v.gen = e.gen AND v.state = 'trash' AND v.purge_ms <= @purge_at`;
  const tx = new MultiStatement();
  tx.add(`SET @purge_at = ${NOW_MS}`, []);
  const locked = tx.add(`SELECT v.version_id FROM ${from} WHERE ${where} FOR UPDATE`, [rows]);
  tx.add(`UPDATE ${from} SET v.state = 'purging', v.gen = v.gen + 1 WHERE ${where}`, [rows]);
  return changedOf(batch, first, (await tx.run(pool))[locked]);
}

/** Forgets many purged versions (each only if still in the trash or being purged), in one transaction. */
export async function deleteTrashedBatch(pool: Pool, versionIds: string[]): Promise<boolean[]> {
  const first = firstOfEach(versionIds);
  const ids = [...first.keys()];
  const where = `version_id IN (${placeholders(ids.length, "?")}) AND state IN ('trash', 'purging')`;
  return lockedThenChanged(pool, versionIds, first, where, ids, "DELETE FROM versions");
}

/** Each distinct id and the index of its first item. */
function firstOfEach(ids: string[]): Map<string, number> {
  const first = new Map<string, number>();
  ids.forEach((id, i) => first.has(id) || first.set(id, i));
  return first;
}

/**
 * One transaction of three statements for a whole batch: lock the rows `where` picks, change them
 * (`change` + the same `where`: locked, they still match), and answer for each item whether it
 * changed its row (a repeated id: only its first item). A statement per item (each conditional,
 * its affected rows the answer) cost MariaDB a parse and a plan apiece, 256 per transaction as
 * purges come due.
 */
async function lockedThenChanged<T>(
  pool: Pool,
  batch: T[],
  first: Map<string, number>,
  where: string,
  params: (string | number)[],
  change: string,
): Promise<boolean[]> {
  const tx = new MultiStatement();
  const lock = { sql: `SELECT version_id FROM versions WHERE ${where} FOR UPDATE`, params };
  const locked = lockThenChange(tx, lock, { sql: change, params: [] }, { where, params });
  return changedOf(batch, first, (await tx.run(pool))[locked]);
}

/** For each item whether the lock's rows hold its id (a repeated id: only its first item). */
function changedOf<T>(batch: T[], first: Map<string, number>, lockedRows: unknown): boolean[] {
  const hit = new Set((lockedRows as RowDataPacket[]).map((r) => first.get(r.version_id as string)));
  return batch.map((_, i) => hit.has(i));
}

/**
 * Adds to `tx` `lock` (a SELECT … FOR UPDATE of the rows `where` picks) and `change` (its SET part
 * and params) of the rows `where` picks; answers the index of the lock's result, the version ids
 * changed. Under READ COMMITTED a
 * row that did not match is not locked, and none can come to match meanwhile: every condition is
 * on the generation, which only grows, or on what changes only with it (state, tier, purge time),
 * or on an access time, which only grows.
 */
function lockThenChange(
  tx: MultiStatement,
  lock: { sql: string; params: (string | number)[] },
  change: { sql: string; params: (string | number)[] },
  { where, params }: { where: string; params: (string | number)[] },
): number {
  const locked = tx.add(lock.sql, lock.params);
  tx.add(`${change.sql} WHERE ${where}`, [...change.params, ...params]);
  return locked;
}

/** Access times per statement: its row locks are held for one statement's time. */
const ACCESS_TIMES_PER_STATEMENT = 500;

/**
 * Moves the access times of live versions forward (never back). The times go as one JSON parameter
 * joined by the primary key: the statement's text is the same for 1 or 500 versions, and each row is
 * found once. It was `accessed_ms = GREATEST(accessed_ms, CASE version_id WHEN ? THEN ? …)` over
 * `version_id IN (…)`: three literals per version for MariaDB to parse, and the CASE compared every
 * row with the listed ids one by one (n²/2 collation compares: 36,000 for the ~270 rows of a busy
 * second). On a private MariaDB, its connection thread's CPU per flush (medians of six rounds, the
 * two builds interleaved): 270 rows 4.4 -> 2.4 ms and 9.4 -> 6.2 ms (two sittings), 500 rows 13.7 ->
 * 8.7 ms (bench/README.md "MariaDB's CPU per op: the access-time flush").
 */
export async function updateAccessTimes(pool: Pool, times: ReadonlyMap<string, number>): Promise<void> {
  // In id order, as the range read of the id list locked them: the join locks rows in the array's order.
  const entries = sortedById([...times]);
  for (let i = 0; i < entries.length; i += ACCESS_TIMES_PER_STATEMENT) {
    await pool.query(ACCESS_TIMES_SQL, [JSON.stringify(entries.slice(i, i + ACCESS_TIMES_PER_STATEMENT))]);
  }
}

/** The access-time UPDATE; its one parameter a JSON array of [version id, epoch ms] pairs. */
export const ACCESS_TIMES_SQL = `UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id CHAR(28) CHARACTER SET ascii PATH '$[0]', at BIGINT PATH '$[1]')) a
    ${LIST_FIRST} ON v.version_id = a.id
    SET v.accessed_ms = GREATEST(v.accessed_ms, a.at)
  WHERE v.state = 'live'`;

/** Distinct keys per bucket, both sorted (a stable lock order across coordinators). */
function groupKeys(items: ObjectKey[]): [string, string[]][] {
  const by = new Map<string, Set<string>>();
  for (const { bucket, key } of items) (by.get(bucket) ?? by.set(bucket, new Set()).get(bucket)!).add(key);
  return [...by]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([b, keys]) => [b, [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))]);
}

/** New versions sorted by key: the order in which a commit locks the keys. */
function sortedByKey(vs: NewVersion[]): NewVersion[] {
  return [...vs].sort((a, b) =>
    a.bucket !== b.bucket ? (a.bucket < b.bucket ? -1 : 1) : Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)),
  );
}

/** Assignments as SQL, each followed by a comma. */
const setSql = (a: Assignment[]): string => a.map((x) => `${x.sql}, `).join("");
const setParams = (a: Assignment[]): string[] => a.flatMap((x) => x.params);
