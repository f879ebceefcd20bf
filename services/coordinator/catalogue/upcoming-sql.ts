import type { Pool, RowDataPacket } from "mysql2/promise";
import type { UpcomingTransition } from "../model/upcoming-transition";

/**
 * One part of the upcoming list: the first `limit` rows of one due scan (an index prefix, read in
 * index order: a range read that stops at the limit), with its transition and due time.
 */
const PARTS = [
  // Live hot versions, least recently read first (versions_by_tier): due one hot TTL after the read.
  {
    transition: "demote",
    due: "v.accessed_ms + ?",
    index: "versions_by_tier",
    where: "v.state = 'live' AND v.tier = 'hot'",
    order: "v.accessed_ms",
  },
  // Trash still on hot or cold (versions_by_tier): due at the delete, so overdue until moved. Taken in
  // access order, not delete order: the delete-order index (versions_by_purge) would read past every
  // moved trash row first, and these are few, each gone within moments.
  {
    transition: "trash",
    due: "v.deleted_ms",
    index: "versions_by_tier",
    where: "v.state = 'trash' AND v.tier = 'hot'",
    order: "v.accessed_ms",
  },
  {
    transition: "trash",
    due: "v.deleted_ms",
    index: "versions_by_tier",
    where: "v.state = 'trash' AND v.tier = 'cold'",
    order: "v.accessed_ms",
  },
  // Every trash version, soonest purge first (versions_by_purge).
  { transition: "purge", due: "v.purge_ms", index: "versions_by_purge", where: "v.state = 'trash'", order: "v.purge_ms" },
] as const;

const text = (b: Buffer | string): string => (typeof b === "string" ? b : b.toString("utf8"));

/**
 * The next `limit` transitions cluster-wide, soonest first: one query, a UNION of an index range
 * read per due scan, each stopped at `limit` rows, so it reads at most 4 × limit index entries
 * however large the catalogue (EXPLAIN: `range`/`ref` on versions_by_tier and versions_by_purge,
 * no table scan). Demotion times are on the rows' access times as written (a read not yet
 * recorded is not counted).
 */
export async function selectUpcoming(pool: Pool, hotTtlMs: number, limit: number): Promise<UpcomingTransition[]> {
  const params: (string | number)[] = [];
  const parts = PARTS.map((p) => {
    if (p.transition === "demote") params.push(hotTtlMs);
    params.push(limit);
    return `(SELECT v.version_id, v.bucket, v.object_key, v.size, v.tier, '${p.transition}' AS transition, ${p.due} AS due_ms
      FROM versions v FORCE INDEX (${p.index}) WHERE ${p.where} ORDER BY ${p.order}, v.version_id LIMIT ?)`;
  });
  params.push(limit);
  const [rows] = await pool.query<RowDataPacket[]>(`${parts.join(" UNION ALL ")} ORDER BY due_ms, version_id LIMIT ?`, params);
  return rows.map((r) => ({
    transition: r.transition,
    dueAtMs: Number(r.due_ms),
    bucket: text(r.bucket),
    key: text(r.object_key),
    versionId: r.version_id,
    size: Number(r.size),
    tier: r.tier,
  }));
}
