import type { Pool, RowDataPacket } from "mysql2/promise";
import { isStatementError, withRetry } from "../../common/db/datasource";
import { performance } from "node:perf_hooks";
import { GroupCommit } from "../../common/group-commit";
import { timeline } from "../../common/metrics/timeline";
import type { RequestId } from "../../common/request-context";
import type { VersionRow } from "../model/version-row";
import { CatalogueClock } from "./catalogue-clock";
import { CostBoundedRead, scanCostMs, type ReadCost } from "./cost-bounded-read";
import { fencedPool, type WriteFence } from "./fenced-pool";
import { LifecycleQueries } from "./lifecycle-queries";
import { BucketQueries } from "./buckets-sql";
import { MultipartQueries } from "./multipart-sql";
import {
  selectLatestTrash,
  selectListed,
  selectTierTotals,
  selectTrashListed,
  selectVersionsListed,
  type TierTotal,
  type VersionsPage,
} from "./listings-sql";
import { ReadCache } from "./read-cache";
import { claimCopies, cleanCopiesBatch, cleanLocked, cleanupLock, type CopyCleanup } from "./copies-sql";
import { RehomeQueries } from "./rehome-queries";
import { ScrubQueries } from "./scrub-queries";
import { selectUpcoming } from "./upcoming-sql";
import type { UpcomingTransition } from "../model/upcoming-transition";
import {
  committedRow,
  deleteTrashedBatch,
  keyChangeBatch,
  keyChangeFits,
  markPurgingBatch,
  moveBatch,
  moveBatchThen,
  requestedVersion,
  restoreVersion,
  selectCurrent,
  selectVersions,
  updateAccessTimes,
  type CommitItem,
  type CommitResult,
  type KeyChange,
  type KeyChangeResult,
  type NewVersion,
  type MultipartFence,
  type ObjectKey,
  type PurgeMark,
  type RestoreResult,
  type TierMove,
} from "./versions-sql";

export type { CommitResult, MultipartFence, NewVersion, RestoreResult };
export { isTakenOver } from "./versions-sql";

/** Lifecycle reads and changes in one query or transaction at most. */
const LIFECYCLE_BATCH = 256;

/**
 * Move batches whose cleanup began in their commit's round trip (moveTierAndClean) and is still
 * running, at most: each holds a connection and its rows while the nodes delete, as a cleanup
 * batch does (the cleanups' GroupCommit runs two). Past it a batch commits alone, its cleanups
 * go the separate way.
 */
const CLEANING_MOVES = 2;

/** A tier move, and (moveTierAndClean) the deletes of the old copies it leaves. */
type MoveItem = TierMove & { remove?: CopyCleanup["remove"] };

/** A move's outcome; for a moveTierAndClean that moved, its cleanup if it began with the commit. */
interface MoveOutcome {
  moved: boolean;
  cleaning?: Promise<Map<string, string[]>>;
}

/** What moveTierAndClean answers at the commit. */
export interface MoveAndClean {
  moved: boolean;
  /** Once moved: the old copies' deletes (already running, or started by the call); answers the nodes whose copies are still pending. */
  clean(): Promise<string[]>;
}

/** Tells the other coordinators' caches of a committed change (cluster/invalidation-bus.ts). */
export interface PeerInvalidations {
  /**
   * Resolves once no peer's cache can answer with what the change replaced; rejects
   * (CatalogueUnavailable) if that cannot be made so: the change is then not acknowledged.
   */
  invalidate(keys: readonly ObjectKey[], versionIds: readonly string[]): Promise<void>;
}

/**
 * The tier totals' scan (a COUNT and SUM over every version) takes ~1 s per million versions here
 * (2026-12-08): the console's dashboard polls /status every 5 s and each coordinator's gauges read
 * them every 10 s, which a 10-million-version catalogue could not serve at all. Priced by the
 * versions they counted (scanCostMs), totals over 250,000 versions or more are kept for 20 times
 * that cost: the scans take at most ~5 % of MariaDB's time per coordinator, and a smaller catalogue
 * is read fresh every time, however busy the machine.
 */
export const TIER_TOTALS_COST: ReadCost<TierTotal[]> = {
  costFactor: 20,
  freeBelowMs: 250,
  costMs: (tiers) => scanCostMs(tiers.reduce((n, t) => n + t.objects, 0)),
};

const NO_PEERS: PeerInvalidations = { invalidate: () => Promise.resolve() };

/**
 * A change the peers need not hear of: it touches only what no read answers with (pending copies,
 * the generation) or versions in the trash, which no cache holds. Each peer's invalidation costs
 * two messages through every coordinator, and a trash move or purge makes up to four such changes.
 */
const NOT_READ = false;

/** What a change's result adds to what the read cache hears of it (see mutate). */
interface Learned {
  versionIds: readonly string[];
  /** A commit's new visible version, cached if nothing else touched its key since `ticket`. */
  current?: { ticket: number; row: VersionRow };
}

/**
 * The catalogue in MySQL: the truth about which version of a key is visible and where every
 * version's bytes are. Hot paths use mysql2 prepared statements; upload commits are grouped into
 * one transaction per batch (see GroupCommit), which is what lets it keep up with thousands of
 * small uploads a second. The SQL is in versions-sql.ts, listings-sql.ts and lifecycle-queries.ts.
 */
export class Catalogue {
  /** What the reconciler asks for (read-only). */
  readonly lifecycle: LifecycleQueries;
  /** The scrubber's walk over every version, its lease and its findings. */
  readonly scrub: ScrubQueries;
  /** Rehome's walk over live hot versions, and the repair backlog. */
  readonly rehome: RehomeQueries;
  /** MariaDB's time: every purge and trash time is written and compared on it. */
  readonly clock: CatalogueClock;
  /** Multipart uploads in progress and their parts (no visible object until Complete commits one). */
  readonly multipart: MultipartQueries;
  /** Buckets: created, listed, deleted when empty (a commit makes its bucket's row itself). */
  readonly buckets: BucketQueries;
  /** Upload commits and deletes, one transaction per batch of both (keyChangeBatch). */
  private readonly keyChanges: GroupCommit<KeyChange, KeyChangeResult>;
  private readonly lookups: GroupCommit<ObjectKey, VersionRow | null>;
  private readonly versionReads: GroupCommit<string, VersionRow | null>;
  private readonly cleanups: GroupCommit<CopyCleanup, string[]>;
  private readonly moves: GroupCommit<MoveItem, MoveOutcome>;
  /** Move batches whose cleanup is running on their connection (CLEANING_MOVES). */
  private cleaningMoves = 0;
  private readonly purgeMarks: GroupCommit<PurgeMark, boolean>;
  private readonly forgets: GroupCommit<string, boolean>;
  /** `pool`, for the changes a read can see (visible version, tier, replicas): each passes the write fence. */
  private readonly writes: Pool;
  /** The tier totals scan every version: read at most as often as their cost allows (cost-bounded-read.ts). */
  private readonly tiers: CostBoundedRead<TierTotal[]>;
  private readonly fence?: WriteFence;

  /**
   * `pool` must allow multiple statements per query (see openDataSource). Every change goes
   * through mutate() and is reported to `cache` (the default cache never answers) and to `peers`
   * (the other coordinators' caches) before it returns. Those a read can see are sent only if
   * `fence` admits them (this coordinator's presence lease; none: always).
   */
  constructor(
    private readonly pool: Pool,
    private readonly trashTtlMs: number,
    private readonly cache: ReadCache = new ReadCache(0, () => undefined),
    fence?: WriteFence,
    private readonly peers: PeerInvalidations = NO_PEERS,
  ) {
    this.fence = fence;
    const writes = (this.writes = fence ? fencedPool(pool, fence) : pool);
    this.lifecycle = new LifecycleQueries(pool);
    this.tiers = new CostBoundedRead(() => selectTierTotals(pool), TIER_TOTALS_COST);
    this.scrub = new ScrubQueries(pool);
    this.rehome = new RehomeQueries(pool);
    this.multipart = new MultipartQueries(pool);
    this.buckets = new BucketQueries(pool);
    const clock = (this.clock = new CatalogueClock(pool));
    // One batch in flight per kind: the rest gather meanwhile, so round trips grow with load slower
    // than operations do (each round trip costs more CPU here than the statements it carries).
    // A batch the server refuses is retried item by item: one bad upload must not fail the others.
    const split = { splitOnFailure: isStatementError };
    // The lifecycle's reads and moves come in bursts of hundreds (the due-row poller moves up to
    // 512 versions of each transition at once): bigger batches, fewer commits.
    const lifecycle = { ...split, maxBatch: LIFECYCLE_BATCH };
    this.keyChanges = new GroupCommit((batch) => withRetry(async () => keyChangeBatch(writes, batch, await clock.now(), trashTtlMs)), {
      ...split,
      fits: keyChangeFits,
      name: "catalogue_commit",
    });
    this.lookups = new GroupCommit((batch) => selectCurrent(pool, batch), { name: "catalogue_lookup" });
    this.versionReads = new GroupCommit((ids) => selectVersions(pool, ids), { maxBatch: LIFECYCLE_BATCH, name: "catalogue_version_read" });
    this.cleanups = new GroupCommit((batch) => withRetry(() => cleanCopiesBatch(pool, batch)), {
      maxBatch: LIFECYCLE_BATCH,
      // Each batch holds its rows while the nodes delete (100-300 ms at load ~16): one at a time,
      // the trash moves' cleanups waited 2-3 s for their turn and filled the poller's backlog.
      parallel: 2,
      name: "catalogue_cleanup",
    });
    this.moves = new GroupCommit((batch) => this.flushMoves(batch), { ...lifecycle, name: "catalogue_move" });
    this.purgeMarks = new GroupCommit((batch) => withRetry(() => markPurgingBatch(pool, batch)), {
      ...lifecycle,
      name: "catalogue_purge_mark",
    });
    this.forgets = new GroupCommit((ids) => withRetry(() => deleteTrashedBatch(pool, ids)), { ...lifecycle, name: "catalogue_forget" });
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

  /** A version by id (every lifecycle job starts here); concurrent reads share one query. */
  version(versionId: string): Promise<VersionRow | null> {
    return this.versionReads.submit(versionId);
  }

  /**
   * Makes a new version visible (the moment an upload becomes real). Waits for its batch. The
   * version it replaces goes to the trash under `requestId`, the upload's. A multipart Complete's
   * commit names its fence (`completes`): its upload is marked completed in the same transaction,
   * or nothing commits (isTakenOver).
   */
  commit(v: NewVersion, requestId?: RequestId, completes?: MultipartFence): Promise<CommitResult> {
    const ticket = this.cache.ticket();
    const version = requestedVersion(v, requestId ?? null);
    const item: CommitItem = completes ? Object.assign(version, { completes }) : version;
    const done = this.keyChanges.submit({ kind: "commit", version: item }) as Promise<CommitResult>;
    return this.mutate([v], [v.versionId], done, (result) => ({
      versionIds: result.replaced,
      // The new row is built only when the cache may keep it (it is on the path of every upload).
      current: this.cache.enabled ? { ticket, row: committedRow(v) } : undefined,
    }));
  }

  /**
   * Hides a key's visible version and moves it to the trash state (its bytes move later).
   * Returns the version, or null when the key has no visible version. Concurrent deletes share
   * one transaction. The version keeps the delete's `requestId` (its trash move and purge name it).
   * With `onlyVersion`, only if that is the visible version when the delete commits (else null).
   */
  markDeleted(bucket: string, key: string, requestId?: RequestId, onlyVersion?: string): Promise<VersionRow | null> {
    const k = { bucket, key };
    const done = this.keyChanges.submit({
      kind: "delete",
      key:
        onlyVersion === undefined
          ? { bucket, key, requestId: requestId ?? null }
          : { bucket, key, requestId: requestId ?? null, onlyVersion },
    }) as Promise<VersionRow | null>;
    return this.mutate([k], [], done, (v) => ({
      versionIds: v ? [v.versionId] : [],
    }));
  }

  /**
   * Makes a trash version visible again under its key, if it is unchanged since it was read (its
   * generation) and its purge time is still ahead on MariaDB's clock (its bytes must already be hot
   * on `replicas`); the key's current version, if any, goes to the trash. `cleanup` joins the
   * copies already pending. `nowMs` is its new access time; `requestId` (the undelete's) goes with
   * the version it replaces. With `onlyIfNoneLive`, nothing changes if the key has a visible
   * version when the restore holds its lock (`keyIsLive`).
   */
  restore(
    trashed: Pick<VersionRow, "versionId" | "bucket" | "key" | "tier" | "gen">,
    replicas: string[],
    cleanup: string[],
    nowMs: number,
    requestId?: RequestId,
    onlyIfNoneLive = false,
  ): Promise<RestoreResult> {
    const { versionId, bucket, key } = trashed;
    const done = restoreVersion(this.writes, trashed, replicas, cleanup, nowMs, this.trashTtlMs, requestId ?? null, onlyIfNoneLive);
    // The key is told even when the restore lost its race (rare): a lookup more, never a stale row.
    return this.mutate([{ bucket, key }], [versionId], done, (r) => ({ versionIds: r.replaced ? [r.replaced] : [] }));
  }

  /**
   * Moves a version's bytes from one tier to another in the catalogue, only if the row is unchanged
   * since the job read it (`expect.gen`; so a concurrent delete, read, undelete or transition wins
   * cleanly). The nodes of the old copies join those pending in `cleanup` until they are deleted
   * (cleanCopies). Returns false if it lost. Concurrent moves share one transaction.
   */
  moveTier(versionId: string, expect: TierMove["expect"], to: TierMove["to"], oldCopies: string[]): Promise<boolean> {
    return this.move({ versionId, expect, to, oldCopies }).then((o) => o.moved);
  }

  /**
   * moveTier, then the old copies deleted as cleanCopies deletes them (`remove` is the caller's).
   * When it can, the batch's commit and the lock of its rows for the cleanup go in one round trip
   * (COMMIT; START TRANSACTION; SELECT … FOR UPDATE), and the deletes begin as soon as it returns:
   * one round trip and one cleanup batch fewer per move batch than a move then a cleanCopies (an
   * overwrite's trash move paid three round trips in two transactions). Answers at the commit.
   */
  async moveTierAndClean(
    versionId: string,
    expect: TierMove["expect"],
    to: TierMove["to"],
    oldCopies: string[],
    remove: CopyCleanup["remove"],
  ): Promise<MoveAndClean> {
    const { moved, cleaning } = await this.move({ versionId, expect, to, oldCopies, remove });
    const clean = (): Promise<string[]> =>
      cleaning ? cleaning.then((left) => left.get(versionId)!) : this.cleanCopies(versionId, [], remove);
    return { moved, clean };
  }

  private move(m: MoveItem): Promise<MoveOutcome> {
    // Only a live version can be in a cache (a trashed one is visible again only by a restore, which tells).
    const peers = m.expect.state === "live";
    return this.mutate([], [m.versionId], this.moves.submit(m), undefined, peers);
  }

  /**
   * A batch of moves: one transaction; with the rows of those that clean after it locked for their
   * cleanup in the same round trip, unless CLEANING_MOVES batches are still cleaning.
   */
  private async flushMoves(batch: MoveItem[]): Promise<MoveOutcome[]> {
    const cleaners = batch.filter((m) => m.remove);
    if (!cleaners.length || this.cleaningMoves >= CLEANING_MOVES) {
      return (await withRetry(() => moveBatch(this.writes, batch))).map((moved) => ({ moved }));
    }
    this.cleaningMoves++;
    try {
      const lock = cleanupLock(cleaners.map((m) => m.versionId));
      // Should the lock fail after the COMMIT (a deadlock: rare, it locks in id order as every cleanup
      // does), the retry finds the moves done and reports them lost; a lost move's cleanup of its new
      // copies keeps them (the row lists them: a cleanup never deletes a replica) and deletes the old
      // ones the row lists as pending. Nothing is lost either way.
      const { moved, nextOut, conn } = await withRetry(() => moveBatchThen(this.pool, batch, lock, this.fence));
      const cleanups = batch.flatMap((m, i) => (moved[i] && m.remove ? [{ versionId: m.versionId, strays: [], remove: m.remove }] : []));
      // Runs whether or not a job asks how it went (a full cleanup backlog does not): the caches hear of it here.
      const cleanFrom = performance.now();
      const cleaned = cleanLocked(conn, cleanups, nextOut as RowDataPacket[]).then((left) => {
        timeline.record("batch.move_cleanup", performance.now() - cleanFrom);
        return new Map(cleanups.map((c, i) => [c.versionId, left[i]]));
      });
      const cleaning = this.mutate(
        [],
        cleanups.map((c) => c.versionId),
        cleaned,
        undefined,
        NOT_READ,
      ).finally(() => this.cleaningMoves--);
      cleaning.catch(() => undefined); // each job that moved hears of a failure through clean()
      return batch.map((m, i) => ({ moved: moved[i], cleaning: moved[i] && m.remove ? cleaning : undefined }));
    } catch (e) {
      this.cleaningMoves--;
      throw e;
    }
  }

  /**
   * Deletes a version's left-over copies under its row lock (see copies-sql.ts): those its row
   * lists as pending and `strays` (copies a job made and could not commit), never one the row
   * lists as a replica. Answers the nodes whose copies are still pending. Grouped; `remove` is the
   * caller's (a trash move's names its request to the nodes).
   */
  cleanCopies(versionId: string, strays: string[], remove: CopyCleanup["remove"]): Promise<string[]> {
    return this.mutate([], [versionId], this.cleanups.submit({ versionId, strays, remove }), undefined, NOT_READ);
  }

  /** Takes nodes off a version's pending copies before a job writes new copies there. */
  claimCopies(versionId: string, nodeIds: string[]): Promise<void> {
    return this.mutate([], [versionId], claimCopies(this.pool, versionId, nodeIds), undefined, NOT_READ);
  }

  /**
   * A purge begins (it then deletes the bytes, then forgets the row): only if the version is
   * unchanged since read and due on MariaDB's clock (the one a restore checks). False if an
   * undelete (or anything) came first, or it is not due there yet. After it, nothing restores the
   * version. Concurrent marks share one transaction.
   */
  markPurging(v: Pick<VersionRow, "versionId" | "gen">): Promise<boolean> {
    return this.mutate([], [v.versionId], this.purgeMarks.submit({ versionId: v.versionId, gen: v.gen }), undefined, NOT_READ);
  }

  /** Forgets a purged version; only if it is (still) in the trash or being purged. Grouped. */
  forget(versionId: string): Promise<boolean> {
    return this.mutate([], [versionId], this.forgets.submit(versionId), undefined, NOT_READ);
  }

  /** Records reads: last-access times, one multi-row UPDATE for many reads. */
  async recordAccess(times: Map<string, number>): Promise<void> {
    await updateAccessTimes(this.pool, times);
    // Not a change of which version is visible or where: cached rows just take the new times.
    this.cache.accessed(times);
  }

  /** Visible objects under a prefix, in key (byte) order, after `afterKey`. */
  list(bucket: string, prefix: string, afterKey: string | Buffer, limit: number): Promise<VersionRow[]> {
    return selectListed(this.pool, bucket, prefix, afterKey, limit);
  }

  /** Restorable versions under a prefix, newest first per key; cursor is the last version id. */
  listTrash(bucket: string, prefix: string, nowMs: number, afterVersion: string, limit: number): Promise<VersionRow[]> {
    return selectTrashListed(this.pool, bucket, prefix, nowMs, afterVersion, limit);
  }

  /** Live and restorable versions under a prefix, by key then newest first (ListObjectVersions). */
  listVersions(bucket: string, page: VersionsPage): Promise<VersionRow[]> {
    return selectVersionsListed(this.pool, bucket, page);
  }

  /** The most recent restorable version of a key (purge time ahead on MariaDB's clock). */
  latestTrash(bucket: string, key: string): Promise<VersionRow | null> {
    return selectLatestTrash(this.pool, bucket, key);
  }

  /**
   * Object count and bytes per tier (live versions), and the trash. On a large catalogue, as they
   * were a while ago (TIER_TOTALS_COST).
   */
  tierTotals(): Promise<TierTotal[]> {
    return this.tiers.get();
  }

  /** The next `limit` lifecycle transitions cluster-wide, soonest first (one indexed query: upcoming-sql.ts). */
  upcoming(hotTtlMs: number, limit: number): Promise<UpcomingTransition[]> {
    return selectUpcoming(this.pool, hotTtlMs, limit);
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  /**
   * The one way a change reaches the catalogue: once `done` settles, the read cache hears which
   * keys and versions it touched, so cached rows go and lookups already in flight cannot bring
   * them back; then the peers' caches, and only once none of them can answer with the old rows
   * does the change return. Also when it failed: a failed COMMIT may still have committed. `keys`
   * and `versionIds` are what the change may touch, known before it runs; `learned` adds what only
   * its result tells (replaced versions: they belong to keys already told). `peers` false: see NOT_READ.
   */
  private async mutate<T>(
    keys: readonly ObjectKey[],
    versionIds: readonly string[],
    done: Promise<T>,
    learned?: (result: T) => Learned,
    peers = true,
  ): Promise<T> {
    let more: Learned | undefined;
    try {
      const result = await done;
      more = learned?.(result);
      return result;
    } finally {
      const touched = more?.versionIds.length ? [...versionIds, ...more.versionIds] : versionIds;
      this.cache.changed(keys, touched, more?.current);
      if (peers) await this.peers.invalidate(keys, touched);
    }
  }
}
