import type { Pool, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import type { BytesTier, VersionRow } from "../model/version-row";

/** What the scrubber adds up; kept as running totals in `scrub_state`, so /status shows the cluster's. */
export interface ScrubCounts {
  /** Versions whose copies were checked, and the bytes the nodes re-read for them. */
  versions: number;
  bytes: number;
  corrupt: number;
  missing: number;
  /** Copies not checked because their node was down or did not answer (checked next pass). */
  unreachable: number;
  repairsQueued: number;
  orphansDeleted: number;
}

export const NO_COUNTS: ScrubCounts = {
  versions: 0,
  bytes: 0,
  corrupt: 0,
  missing: 0,
  unreachable: 0,
  repairsQueued: 0,
  orphansDeleted: 0,
};

/** The scrubber's row, as /status shows it. Times are on the catalogue's clock. */
export interface ScrubState {
  owner: string;
  leaseUntilMs: number;
  cursor: string;
  pass: { startedAtMs: number | null; versions: number; bytes: number };
  passes: number;
  lastPassEndedAtMs: number | null;
  totals: ScrubCounts;
}

/** A version as the scrubber walks it: where its copies are, and how many bytes each holds. */
export type ScrubVersion = Pick<VersionRow, "versionId" | "size" | "sha256" | "state" | "tier" | "replicas">;

const ids = (s: string): string[] => (s ? s.split(",") : []);
const num = (v: unknown): number => Number(v ?? 0);

/**
 * The scrubber's SQL: its lease and progress (scrub-schema.ts) and its two reads of `versions`,
 * a keyset page in primary-key order and which nodes a set of versions names. Every write to the
 * state row is fenced by the owner, so a scrubber that stalled past its lease cannot move the
 * cursor of the one that took over.
 */
export class ScrubQueries {
  constructor(private readonly pool: Pool) {}

  /** Takes the lease if it is free, expired or already ours; true if we hold it until nowMs + leaseMs. */
  async acquire(owner: string, nowMs: number, leaseMs: number): Promise<boolean> {
    const [r] = await this.pool.query<ResultSetHeader>(
      `UPDATE scrub_state SET owner = ?, lease_until_ms = ?, pass_started_ms = COALESCE(pass_started_ms, ?)
        WHERE id = 1 AND (owner = ? OR lease_until_ms < ?)`,
      [owner, nowMs + leaseMs, nowMs, owner, nowMs],
    );
    return r.affectedRows === 1;
  }

  /** Gives the lease up at once (a clean stop), so another coordinator need not wait it out. */
  async release(owner: string): Promise<void> {
    await this.pool.query("UPDATE scrub_state SET lease_until_ms = 0 WHERE id = 1 AND owner = ?", [owner]);
  }

  /**
   * Adds `found` to the totals and renews the lease; moves the cursor to `cursor` if given, or ends
   * the pass (cursor back to the start) if `endPass`. False when another scrubber owns the row now.
   */
  async checkpoint(
    owner: string,
    nowMs: number,
    leaseMs: number,
    found: ScrubCounts,
    at: { cursor?: string; endPass?: boolean } = {},
  ): Promise<boolean> {
    const pass = at.endPass
      ? "cursor_id = '', passes = passes + 1, last_pass_ended_ms = ?, pass_started_ms = ?, pass_versions = 0, pass_bytes = 0"
      : "cursor_id = COALESCE(?, cursor_id), pass_versions = pass_versions + ?, pass_bytes = pass_bytes + ?";
    const passParams = at.endPass ? [nowMs, nowMs] : [at.cursor ?? null, found.versions, found.bytes];
    const [r] = await this.pool.query<ResultSetHeader>(
      `UPDATE scrub_state SET lease_until_ms = ?, ${pass},
          versions_checked = versions_checked + ?, bytes_checked = bytes_checked + ?, corrupt_found = corrupt_found + ?,
          missing_found = missing_found + ?, unreachable = unreachable + ?, repairs_queued = repairs_queued + ?,
          orphans_deleted = orphans_deleted + ?
        WHERE id = 1 AND owner = ?`,
      [
        nowMs + leaseMs,
        ...passParams,
        found.versions,
        found.bytes,
        found.corrupt,
        found.missing,
        found.unreachable,
        found.repairsQueued,
        found.orphansDeleted,
        owner,
      ],
    );
    return r.affectedRows === 1;
  }

  async state(): Promise<ScrubState> {
    const [rows] = await this.pool.query<RowDataPacket[]>("SELECT * FROM scrub_state WHERE id = 1");
    const r = rows[0] ?? {};
    return {
      owner: r.owner ?? "",
      leaseUntilMs: num(r.lease_until_ms),
      cursor: r.cursor_id ?? "",
      pass: {
        startedAtMs: r.pass_started_ms == null ? null : num(r.pass_started_ms),
        versions: num(r.pass_versions),
        bytes: num(r.pass_bytes),
      },
      passes: num(r.passes),
      lastPassEndedAtMs: r.last_pass_ended_ms == null ? null : num(r.last_pass_ended_ms),
      totals: {
        versions: num(r.versions_checked),
        bytes: num(r.bytes_checked),
        corrupt: num(r.corrupt_found),
        missing: num(r.missing_found),
        unreachable: num(r.unreachable),
        repairsQueued: num(r.repairs_queued),
        orphansDeleted: num(r.orphans_deleted),
      },
    };
  }

  /** Up to `limit` versions after `afterId` in primary-key order: a range scan, however big the table. */
  async page(afterId: string, limit: number): Promise<ScrubVersion[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      "SELECT version_id, size, sha256, state, tier, replicas FROM versions WHERE version_id > ? ORDER BY version_id LIMIT ?",
      [afterId, limit],
    );
    return rows.map((r) => ({
      versionId: r.version_id,
      size: Number(r.size),
      sha256: r.sha256,
      state: r.state,
      tier: r.tier as BytesTier,
      replicas: ids(r.replicas),
    }));
  }

  /**
   * For each of `versionIds` that has a row, every node the row names (its replicas and the copies
   * left for cleanup; for a multipart part's blob, its replicas): a copy on any other node is no row's. Read from MariaDB, never the cache.
   */
  async namedNodes(versionIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const named = new Map<string, Set<string>>();
    if (!versionIds.length) return named;
    const [rows] = await this.pool.query<RowDataPacket[]>("SELECT version_id, replicas, cleanup FROM versions WHERE version_id IN (?)", [
      versionIds,
    ]);
    for (const r of rows) named.set(r.version_id, new Set([...ids(r.replicas), ...ids(r.cleanup)]));
    // A multipart upload's parts are blobs no version names until Complete: their rows name them.
    const [parts] = await this.pool.query<RowDataPacket[]>("SELECT blob_id, replicas FROM multipart_parts WHERE blob_id IN (?)", [
      versionIds,
    ]);
    for (const r of parts) named.set(r.blob_id, new Set(ids(r.replicas)));
    return named;
  }
}
