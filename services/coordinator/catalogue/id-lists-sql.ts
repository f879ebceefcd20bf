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

/** Removes each id from the column. */
export function removeIds(column: string, ids: readonly string[]): Assignment[] {
  return [...new Set(ids)].map((id) => ({
    sql: `${column} = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', ${column}, ','), CONCAT(',', ?, ','), ','))`,
    params: [id],
  }));
}

export const splitIds = (s: string): string[] => (s ? s.split(",") : []);
