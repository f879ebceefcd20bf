import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { MultiStatement } from "../../common/db/multi-statement";
import { removeIds, splitIds } from "./id-lists-sql";

// Deleting a version's left-over copies is the one change that cannot be undone, and a copy left
// over from one transition can become live again through the next (an undelete leaves the trash
// node's copy pending; a re-delete's trash move writes it again: review finding 14). So copies are
// deleted only under the version's row lock, and only those the row lists as pending and not as
// replicas at that moment; a job about to write a copy to a node listed as pending first takes it
// off the list (claimCopies), which waits for that lock.

/** A version's copies to delete: those it lists as pending, and `strays` a job made but never committed. */
export interface CopyCleanup {
  versionId: string;
  strays: string[];
  /**
   * Deletes the copies on these nodes; answers the nodes that still hold one. `stillHeld` resolves
   * while the cleanup's transaction (and so its row locks) is alive: a node's fenced delete is asked
   * again only after it (NodeClient.deleteBlob).
   */
  remove(nodeIds: string[], stillHeld: () => Promise<void>): Promise<string[]>;
}

/**
 * One transaction for a batch: lock the rows (in id order, as every batch does), delete the copies
 * each row lists as pending or the job names as strays, minus its replicas, and record what could
 * not be deleted. A stray the row did not list as pending adds one to the generation: a job that
 * read the row before may have written a copy there too, and must not commit it. A version that is
 * gone has nobody pointing at its copies: they all go. Answers each item's copies still pending.
 */
export async function cleanCopiesBatch(pool: Pool, batch: CopyCleanup[]): Promise<string[][]> {
  const lock = cleanupLock(batch.map((item) => item.versionId));
  const tx = new MultiStatement();
  const at = tx.add(lock.sql, lock.params);
  const { out, conn } = await tx.open(pool);
  return cleanLocked(conn, batch, out[at] as RowDataPacket[]);
}

/**
 * The statement that begins a cleanup of these versions: it locks their rows, in id order as every
 * batch does, and reads what the cleanup decides on (cleanLocked's `rows`).
 */
export function cleanupLock(versionIds: string[]): { sql: string; params: string[] } {
  const ids = [...new Set(versionIds)].sort();
  return {
    sql: `SELECT version_id, replicas, cleanup FROM versions WHERE version_id IN (${ids.map(() => "?").join(", ")})
        ORDER BY version_id FOR UPDATE`,
    params: ids,
  };
}

/**
 * The rest of a cleanup (see cleanCopiesBatch) on a connection whose transaction holds the rows
 * locked (`rows`: what cleanupLock read, for these versions and maybe others): deletes, records
 * what is left, commits and releases the connection (or rolls back and releases it on failure).
 */
export async function cleanLocked(c: PoolConnection, batch: CopyCleanup[], lockedRows: RowDataPacket[]): Promise<string[][]> {
  const byVersion = new Map<string, CopyCleanup>();
  for (const item of batch) {
    const seen = byVersion.get(item.versionId);
    byVersion.set(item.versionId, seen ? { ...seen, strays: [...seen.strays, ...item.strays] } : item);
  }
  const ids = [...byVersion.keys()].sort();
  // A query on the transaction's own connection answers only while its locks are held.
  const stillHeld = () => c.query("DO 0").then(() => undefined);
  try {
    const rows = new Map(lockedRows.map((r) => [r.version_id as string, r]));
    const pending = new Map<string, string[]>();
    const updates: { id: string; cleanup: string; genStep: number }[] = [];
    await Promise.all(
      ids.map(async (id) => {
        const { strays, remove } = byVersion.get(id)!;
        const row = rows.get(id);
        const listed = row ? splitIds(row.cleanup) : [];
        const live = row ? splitIds(row.replicas) : [];
        // The listed copies then the strays, each once, minus the replicas: built in one array
        // rather than through two Sets and three spread copies (lists of one to three ids; the
        // Sets were ~0.4 % of the bytes the busy coordinator allocated under the overwrite row,
        // 2026-12-07).
        const doomed: string[] = [];
        for (const n of listed) if (!live.includes(n) && !doomed.includes(n)) doomed.push(n);
        for (const n of strays) if (!live.includes(n) && !doomed.includes(n)) doomed.push(n);
        const failed = doomed.length ? await remove(doomed, stillHeld).catch(() => doomed) : [];
        pending.set(id, failed);
        if (!row) return;
        const unlisted = doomed.some((n) => !listed.includes(n));
        if (unlisted || failed.length !== listed.length || failed.some((n) => !listed.includes(n))) {
          updates.push({ id, cleanup: failed.join(","), genStep: unlisted ? 1 : 0 });
        }
      }),
    );
    // One UPDATE per outcome (almost always one: every copy gone, `cleanup` emptied); the rows are
    // locked. A statement per row cost MariaDB a parse and a plan each; one CASE over the batch
    // compares each row with every WHEN (quadratic): for 256 rows 16-24 ms a transaction against
    // 6-8 ms, ~2 ms more of mariadbd's CPU, and the largest statement time of a lifecycle run.
    const outcomes = new Map<string, { cleanup: string; genStep: number; ids: string[] }>();
    for (const u of updates) {
      const key = `${u.cleanup}/${u.genStep}`;
      const same = outcomes.get(key) ?? { cleanup: u.cleanup, genStep: u.genStep, ids: [] };
      same.ids.push(u.id);
      outcomes.set(key, same);
    }
    const sets = [...outcomes.values()];
    await c.query(
      `${sets.map((o) => `UPDATE versions SET cleanup = ?, gen = gen + ? WHERE version_id IN (${o.ids.map(() => "?").join(", ")});\n`).join("")}COMMIT`,
      sets.flatMap((o) => [o.cleanup, o.genStep, ...o.ids]),
    );
    return batch.map((item) => pending.get(item.versionId)!);
  } catch (e) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/**
 * Takes nodes off a version's pending copies before a job writes a copy to them, waiting for a
 * cleanup that holds the row (so no deletion of an old copy there can follow the new copy).
 */
export async function claimCopies(pool: Pool, versionId: string, nodeIds: string[]): Promise<void> {
  const set = removeIds("cleanup", nodeIds);
  await pool.execute<ResultSetHeader>(`UPDATE versions SET ${set.map((a) => a.sql).join(", ")} WHERE version_id = ?`, [
    ...set.flatMap((a) => a.params),
    versionId,
  ]);
}
