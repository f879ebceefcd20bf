import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../../common/logger";
import type { BlobVerdict, BlobVerification } from "../../../rpc/blob-backend";
import { Semaphore } from "../../../common/semaphore";
import type { Catalogue } from "../../catalogue/catalogue";
import { NO_COUNTS, type ScrubCounts, type ScrubVersion } from "../../catalogue/scrub-queries";
import type { NodePool } from "../../cluster/node-pool";
import { OrphanSweep, type SweptNode } from "./orphan-sweep";
import { Pacer, type Clock } from "./pacer";

export interface ScrubberDeps {
  readonly catalogue: Pick<Catalogue, "scrub" | "version" | "clock">;
  readonly nodes: Pick<NodePool, "isLive" | "failed">;
  /** Has a node re-read one copy of `size` bytes against the sha256 stored with it (NodeClient.checkBlob). */
  verify(nodeId: string, blobId: string, size: number): Promise<BlobVerification>;
  /** The nodes to sweep for orphans (live, not removed) and their clients. */
  sweptNodes(): string[];
  sweptClient(nodeId: string): SweptNode;
  /** Queues a repair of a version (the scheduler's underReplicated). */
  repair(versionId: string): void;
  readonly log: Logger;
}

export interface ScrubberOptions {
  /** MINIS3_SCRUB_RATE: bytes per second the nodes re-read, cluster-wide (one scrubber at a time). */
  bytesPerSecond: number;
  /** MINIS3_ORPHAN_GRACE. */
  orphanGraceMs: number;
  /** Hot copies a live version should have (MINIS3_REPLICAS). */
  replicas: number;
  /** This coordinator's id: the lease's owner. */
  owner: string;
  /** How long a lease lasts without renewal; renewed every third of it. */
  leaseMs?: number;
  /** Pause between passes, so a small catalogue is not re-read back to back. */
  passPauseMs?: number;
  pageSize?: number;
  now?: Clock;
}

/**
 * What checking a copy costs at least, however small: a stat and a unary call on both sides cost
 * about what re-reading 64 KiB does, so small objects are paced per check, not per byte (at the
 * default 4 MiB/s, 64 checks a second: a pass over a million small objects at R=2 takes ~9 h, and
 * the scrubber stays a rounding error next to the bench's load).
 */
const MIN_COST_BYTES = 64 * 1024;
/** Versions checked at once: enough to hide round trips and fill a pacing quantum; the pacer holds the bytes. */
const CONCURRENCY = 16;
/**
 * Checks are let go together every this long (Pacer quantum): at the default rate ~16 small copies,
 * whose checks share Exchange messages (one message per node, not one per check).
 */
const PACING_QUANTUM_MS = 250;
/**
 * The end of a lease this coordinator does not count on for the orphan sweep's deletes: two
 * coordinators' readings of the catalogue's clock differ by their answers' ways back, so another
 * may take the lease that much before our reading says it ends.
 */
const LEASE_MARGIN = 0.1;

/**
 * The scrubber (issue 12 items 2 and 5): re-reads every copy of every version that the catalogue
 * lists (hot on storage nodes, cold on the backup node, trash on the delete node), at
 * MINIS3_SCRUB_RATE, and sweeps every node for copies no row names (orphan-sweep.ts).
 *
 * One coordinator scrubs at a time: a lease in `scrub_state` on the catalogue's clock, renewed as it
 * goes. The walk is a keyset cursor on version_id kept in that row after each page, so a restart or
 * another coordinator taking over goes on where it stopped (at worst one page is checked twice).
 *
 * A copy found corrupt or missing that the version still lists queues a repair when the version is
 * live and hot, where another copy exists (the repair job verifies its sources and replaces the
 * copy); a cold or trash version has one copy, so that is reported and logged. A live hot version
 * listing fewer than MINIS3_REPLICAS copies is repaired too (review finding 17).
 */
export class Scrubber {
  private readonly pacer: Pacer;
  private readonly orphans: OrphanSweep;
  private readonly now: Clock;
  private readonly leaseMs: number;
  private readonly stopping = new AbortController();
  private running?: Promise<void>;
  /** Where this pass is; undefined until read from the row after taking the lease. */
  private cursor?: string;
  private nextSweepAt = 0;
  /** Until when (on this.now()) the lease is surely ours: from before the last renewal that held it. */
  private leasedUntil = -Infinity;

  constructor(
    private readonly deps: ScrubberDeps,
    private readonly opts: ScrubberOptions,
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.pacer = new Pacer(opts.bytesPerSecond, this.now, undefined, PACING_QUANTUM_MS);
    this.orphans = new OrphanSweep(
      {
        nodes: deps.sweptNodes,
        client: deps.sweptClient,
        named: (ids) => deps.catalogue.scrub.namedNodes(ids),
        leased: () => this.now() < this.leasedUntil,
        log: deps.log,
      },
      opts.orphanGraceMs,
      this.now,
    );
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops after the copy in hand and gives the lease up, so another coordinator goes on at once. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    await this.deps.catalogue.scrub.release(this.opts.owner).catch(() => undefined);
  }

  private async loop(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let pauseMs = 0;
      try {
        pauseMs = await this.step(signal);
      } catch (e) {
        if (signal.aborted) break;
        this.deps.log.warn({ err: e }, "scrubber step failed; trying again");
        this.cursor = undefined;
        pauseMs = 5000;
      }
      if (pauseMs > 0) await sleep(pauseMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /**
   * One unit of work if this coordinator holds the lease: an orphan sweep when one is due, else the
   * next page of versions (or the end of the pass). Returns how long to pause before the next.
   */
  async step(signal?: AbortSignal): Promise<number> {
    const { scrub, clock } = this.deps.catalogue;
    const { owner } = this.opts;
    const asked = this.now();
    if (!(await scrub.acquire(owner, await clock.now(), this.leaseMs))) {
      this.cursor = undefined; // someone else scrubs: take the row's cursor if it comes back to us
      return this.leaseMs / 3;
    }
    this.held(asked);
    this.cursor ??= (await scrub.state()).cursor;

    if (this.now() >= this.nextSweepAt) {
      // Twice per grace: an orphan goes between one and one and a half graces after it is first seen.
      this.nextSweepAt = this.now() + this.opts.orphanGraceMs / 2;
      const orphansDeleted = await this.whileLeased(signal, (s) => this.orphans.sweep(s));
      if (orphansDeleted === undefined) return 0;
      await this.checkpoint({ ...NO_COUNTS, orphansDeleted });
      return 0;
    }

    const page = await scrub.page(this.cursor, this.opts.pageSize ?? 100);
    if (!page.length) {
      const s = await scrub.state();
      await this.checkpoint(NO_COUNTS, { endPass: true });
      this.cursor = "";
      this.deps.log.info({ versions: s.pass.versions, bytes: s.pass.bytes }, "scrub pass ended");
      return this.opts.passPauseMs ?? 10_000;
    }
    const found = { ...NO_COUNTS };
    const done = await this.whileLeased(signal, async (s) => {
      const slots = new Semaphore(CONCURRENCY);
      await Promise.all(page.map((v) => slots.run(() => this.check(v, found, s))));
      return true;
    });
    if (!done) return 0; // lost the lease or stopping: the page is checked again by whoever goes on
    await this.checkpoint(found, { cursor: page[page.length - 1].versionId });
    this.cursor = page[page.length - 1].versionId;
    return 0;
  }

  /** Checks every copy a version lists; adds what it finds to `found`. */
  private async check(v: ScrubVersion, found: ScrubCounts, signal: AbortSignal): Promise<void> {
    const { nodes, log } = this.deps;
    // A purge has begun deleting its copies: a missing one is no finding, and nothing reads them again.
    if (v.state === "purging") return;
    const liveHot = v.state === "live" && v.tier === "hot";
    let queued = false;
    const repair = () => {
      if (queued) return;
      queued = true;
      this.deps.repair(v.versionId);
      found.repairsQueued++;
    };
    if (liveHot && v.replicas.length < this.opts.replicas) repair();
    await Promise.all(
      v.replicas.map(async (node) => {
        if (!nodes.isLive(node)) {
          found.unreachable++;
          return;
        }
        await this.pacer.take(Math.max(v.size, MIN_COST_BYTES), signal);
        let verdict: BlobVerdict;
        try {
          verdict = agreed(v, await this.deps.verify(node, v.versionId, v.size));
        } catch (e) {
          nodes.failed(node, e);
          found.unreachable++;
          return;
        }
        found.bytes += v.size;
        if (verdict === "ok") return;
        // The copy may have left in a transition since the page was read: only a listed copy counts.
        const now = await this.deps.catalogue.version(v.versionId);
        if (!now || now.state === "purging" || !now.replicas.includes(node)) return;
        found[verdict]++;
        if (now.state === "live" && now.tier === "hot") {
          log.warn({ version: v.versionId, node, verdict }, "scrub: bad copy; repair queued");
          repair();
        } else {
          log.error(
            { version: v.versionId, node, verdict, state: now.state, tier: now.tier },
            "scrub: the only copy of this version is bad",
          );
        }
      }),
    );
    found.versions++;
  }

  /**
   * Runs `work` while renewing the lease every third of it; if a renewal finds another owner, or
   * the scrubber stops, `work`'s signal aborts and this returns undefined.
   */
  private async whileLeased<T>(outer: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
    const ac = new AbortController();
    setMaxListeners(4 * CONCURRENCY, ac.signal); // each copy in hand waits on it in the pacer
    const onStop = () => ac.abort();
    outer?.addEventListener("abort", onStop);
    const timer = setInterval(() => {
      void this.checkpoint(NO_COUNTS)
        .then((held) => held || ac.abort())
        .catch(() => undefined); // MariaDB away: the lease runs out on its own, and so do our writes
    }, this.leaseMs / 3);
    try {
      return await work(ac.signal);
    } catch (e) {
      if (ac.signal.aborted) return undefined;
      throw e;
    } finally {
      clearInterval(timer);
      outer?.removeEventListener("abort", onStop);
    }
  }

  /** Adds `found` to the row and renews the lease; a row owned by another means this one stops. */
  private async checkpoint(found: ScrubCounts, at?: { cursor?: string; endPass?: boolean }): Promise<boolean> {
    const { scrub, clock } = this.deps.catalogue;
    const asked = this.now();
    const held = await scrub.checkpoint(this.opts.owner, await clock.now(), this.leaseMs, found, at);
    if (held) this.held(asked);
    else {
      this.cursor = undefined;
      this.leasedUntil = -Infinity;
    }
    return held;
  }

  /**
   * A renewal asked at `asked` held: no one else takes the lease until a lease after `asked` (less
   * the margin). Timed on this process's monotonic clock, which runs on through a pause (SIGSTOP,
   * GC), so a sweeper that wakes past it deletes nothing before it has renewed again.
   */
  private held(asked: number): void {
    this.leasedUntil = Math.max(this.leasedUntil, asked + this.leaseMs * (1 - LEASE_MARGIN));
  }
}

/**
 * The node checks the bytes against the sha256 it stored with them; a copy is only good if that is
 * also the catalogue's (a blob written under this id with other bytes is as wrong as a flipped bit).
 */
function agreed(v: ScrubVersion, r: BlobVerification): BlobVerdict {
  if (r.verdict !== "ok" || !r.meta) return r.verdict;
  return r.meta.size === v.size && r.meta.sha256.toString("hex") === v.sha256 ? "ok" : "corrupt";
}
