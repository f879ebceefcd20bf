import type { Logger } from "../../../common/logger";
import type { BlobMeta } from "../../../rpc/blob-backend";
import { DeleteFenced, type NodeClient } from "../../../rpc/client/node-client";
import type { Clock } from "./pacer";

/** What the sweep needs of a node: its listing, a stat to recognise a copy, and delete. */
export type SweptNode = Pick<NodeClient, "listBlobs" | "statBlob" | "deleteBlob">;

export interface OrphanSweepDeps {
  /** The nodes to sweep now (live ones: a listing of a down node would only time out). */
  nodes(): string[];
  client(nodeId: string): SweptNode;
  /** For each version that has a row, the nodes it names (replicas and cleanup), from MariaDB. */
  named(versionIds: readonly string[]): Promise<Map<string, Set<string>>>;
  /**
   * Whether this coordinator surely still holds the lease that makes it the one sweeper (none: always);
   * asked right before each delete, and the sweep stops once it is false.
   */
  leased?(): boolean;
  log: Logger;
}

/** Catalogue look-ups per listed batch: one IN (…) query per this many blobs. */
const BATCH = 500;

/** A copy seen unnamed: its incarnation (a re-written blob gets a new storedAtMs) and since when. */
interface Sighting {
  storedAtMs: number;
  sinceMs: number;
}

/**
 * Orphans (review finding 18): copies on a node that no catalogue row names on that node (no row
 * at all, or a row whose replicas and cleanup leave that node out), left by a coordinator that died
 * between its copies and its commit, a late Exchange put, a failed discard, a cleanup list that
 * was overwritten (finding 7)… Each sweep lists every live node, and deletes a copy only once it
 * has been unnamed for `graceMs`.
 *
 * Why the grace makes this safe: every copy is written before the commit that names it (uploads
 * commit after their replicas are durable; tier moves, repairs and undeletes copy, then commit), so
 * an unnamed copy is either an orphan or a copy whose commit is still in flight. That commit
 * follows the copy by one catalogue round trip, or by however long MariaDB keeps a query waiting
 * (no deadline yet: a dead connection waits for TCP to give up, about 15 min; review finding 8), or
 * by a coordinator's stall (GC, SIGSTOP). The default grace of an hour is four times the longest of
 * those we know; a commit later still would have to land after its coordinator hung for an hour.
 *
 * The grace is timed here, on this coordinator's monotonic clock, from the first sweep that saw
 * the copy unnamed, and only while the node reports the same storedAtMs (a copy deleted and
 * written again, say by a repair choosing that node, starts over). It is not timed from storedAtMs
 * itself: that is the node's clock, and a node whose clock runs ahead (the clock-skew test runs
 * one two days ahead) would make a copy written a moment ago look old. A version created after a
 * sweep's look-up cannot be hit either: its copies are newer than the first sighting.
 *
 * Right before deleting, the copy is stat'ed (same incarnation) and its row read again from
 * MariaDB. What is left is a window of milliseconds between that read and the delete, in which a
 * commit naming a copy that had sat unnamed for the whole grace would have to land: then that
 * replica is gone and the next scrub pass finds it missing and queues its repair.
 *
 * Only the lease holder sweeps (the scrubber's lease), and it deletes only while that lease is
 * surely its own (`leased`, asked before every delete): a sweep that lost it stops at once.
 */
export class OrphanSweep {
  /** Per node, the copies seen unnamed at the last sweep of it. */
  private readonly sightings = new Map<string, Map<string, Sighting>>();

  constructor(
    private readonly deps: OrphanSweepDeps,
    private readonly graceMs: number,
    private readonly now: Clock = () => performance.now(),
    /** Sightings kept at most (memory): more orphans than this are found over several sweeps. */
    private readonly maxSightings = 200_000,
  ) {}

  /** Sweeps every node once; returns the copies deleted. */
  async sweep(signal?: AbortSignal): Promise<number> {
    const nodes = this.deps.nodes();
    for (const id of this.sightings.keys()) if (!nodes.includes(id)) this.sightings.delete(id);
    let deleted = 0;
    for (const node of nodes) {
      if (!this.mayGoOn(signal)) break;
      try {
        deleted += await this.sweepNode(node, signal);
      } catch (e) {
        // A node that went away mid-listing keeps its sightings: the next sweep goes on from them.
        this.deps.log.warn({ err: e, node }, "orphan sweep: could not list the node");
      }
    }
    return deleted;
  }

  private async sweepNode(node: string, signal?: AbortSignal): Promise<number> {
    const client = this.deps.client(node);
    const before = this.sightings.get(node) ?? new Map<string, Sighting>();
    const kept = this.total() - before.size;
    const after = new Map<string, Sighting>();
    const due: BlobMeta[] = [];
    const judge = async (batch: BlobMeta[]) => {
      const named = await this.deps.named(batch.map((b) => b.blobId));
      const t = this.now();
      for (const b of batch) {
        if (named.get(b.blobId)?.has(node)) continue;
        const seen = before.get(b.blobId);
        const sinceMs = seen && seen.storedAtMs === b.storedAtMs ? seen.sinceMs : t;
        if (t - sinceMs >= this.graceMs) due.push(b);
        else if (kept + after.size < this.maxSightings) after.set(b.blobId, { storedAtMs: b.storedAtMs, sinceMs });
      }
    };
    // Deletes wait for the end of the listing: no backend has to list while its blobs go.
    let batch: BlobMeta[] = [];
    for await (const meta of client.listBlobs()) {
      batch.push(meta);
      if (batch.length >= BATCH) {
        await judge(batch);
        batch = [];
      }
      if (signal?.aborted) return 0;
    }
    if (batch.length) await judge(batch);
    this.sightings.set(node, after);
    return this.remove(node, client, due, signal);
  }

  /** Deletes the due copies that are still the same incarnation and still named by no row. */
  private async remove(node: string, client: SweptNode, due: BlobMeta[], signal?: AbortSignal): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < due.length; i += BATCH) {
      const batch = due.slice(i, i + BATCH);
      const named = await this.deps.named(batch.map((b) => b.blobId));
      for (const b of batch) {
        if (named.get(b.blobId)?.has(node)) continue;
        const meta = await client.statBlob(b.blobId);
        if (!meta || meta.storedAtMs !== b.storedAtMs) continue;
        // Checked last, right before the delete: a sweeper paused past its lease (or whose renewals
        // failed) may have been replaced meanwhile, and its judgement is no longer the sweeper's.
        if (!this.mayGoOn(signal)) {
          this.deps.log.warn({ node, deleted }, "orphan sweep: the scrub lease is lost or stopping; no more deletes");
          return deleted;
        }
        // Fenced at the node's position this client last heard (the stat's answer or later), not asked
        // again: a copy put since is a new incarnation the sweep has not judged (DeleteFenced).
        try {
          if (await client.deleteBlob(b.blobId)) deleted++;
        } catch (e) {
          if (!(e instanceof DeleteFenced)) throw e;
          continue;
        }
        this.deps.log.info({ node, blob: b.blobId, size: b.size, storedAtMs: b.storedAtMs }, "deleted an orphan copy");
      }
    }
    return deleted;
  }

  /** Not stopping, and the lease (if any) surely still ours. */
  private mayGoOn(signal?: AbortSignal): boolean {
    return !signal?.aborted && (this.deps.leased?.() ?? true);
  }

  private total(): number {
    let n = 0;
    for (const m of this.sightings.values()) n += m.size;
    return n;
  }
}
