// `replicas` and `cleanup` are comma-separated node ids. These build SET assignments that change
// such a column in place, inside the UPDATE that also checks the row, so a change made meanwhile
// by someone else is kept (MariaDB applies a single-table UPDATE's assignments left to right, each
// seeing the one before, so one assignment per id composes).

export interface Assignment {
  sql: string;
  params: string[];
}

/** Adds each id the column does not list yet. */
export function addIds(column: string, ids: readonly string[]): Assignment[] {
  return [...new Set(ids)].map((id) => ({
    sql: `${column} = IF(FIND_IN_SET(?, ${column}) > 0, ${column}, CONCAT_WS(',', NULLIF(${column}, ''), ?))`,
    params: [id, id],
  }));
}

/**
 * Adds `id` where the column does not list it yet, on the rows whose `version_id` is one of `ids`
 * only (the others keep the column as it is): one statement for rows that each add their own ids.
 */
export function addIdOn(column: string, id: string, ids: readonly string[]): Assignment {
  return {
    sql: `${column} = IF(version_id IN (${ids.map(() => "?").join(", ")}) AND FIND_IN_SET(?, ${column}) = 0, CONCAT_WS(',', NULLIF(${column}, ''), ?), ${column})`,
    params: [...ids, id, id],
  };
}

/** Removes each id from the column. */
export function removeIds(column: string, ids: readonly string[]): Assignment[] {
  return [...new Set(ids)].map((id) => ({
    sql: `${column} = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', ${column}, ','), CONCAT(',', ?, ','), ','))`,
    params: [id],
  }));
}

/**
 * A list column's ids, each once: a large upload before 2026-12-07 could list a node twice (a target
 * unreachable at the start that came back as a replacement), and a list read that way counted a copy
 * that does not exist. LifecycleQueries.underReplicated finds such rows for repair, which writes them back once each.
 */
export const splitIds = (s: string): string[] => listedIds(s).ids;

/** A list column's ids, each once, and whether the column named one more than once. */
export function listedIds(s: string): { ids: string[]; repeated: boolean } {
  const all = s ? s.split(",") : [];
  // A short list (a version's replicas or pending copies: one to three ids, every row read) is
  // checked by comparing its ids, and answered as split when none repeats: the Set and its spread
  // copy were ~0.4-0.8 % of the bytes the busy coordinator allocated under the overwrite row
  // (sampling heap profile with collected objects, 2026-12-07).
  if (all.length <= SHORT_LIST) {
    let repeated = false;
    for (let i = 1; i < all.length && !repeated; i++) repeated = all.lastIndexOf(all[i], i - 1) >= 0;
    if (!repeated) return { ids: all, repeated };
  }
  const ids = [...new Set(all)];
  return { ids, repeated: ids.length < all.length };
}

/** Lists up to this long are checked for repeats id by id (listedIds). */
const SHORT_LIST = 8;

/** SQL REGEXP (a parameter) matching a list column that names some id twice. */
export const REPEATED_ID = "(^|,)([^,]+),(.*,)?\\2(,|$)";
