import { performance } from "node:perf_hooks";
import { ErrorCode, hasCode } from "../../common/errors";
import type { Logger } from "../../common/logger";
import { timeline } from "../../common/metrics/timeline";
import { Semaphore } from "../../common/semaphore";
import { START_CURSOR, type DueCursor, type DueScan, type LifecycleQueries } from "../catalogue/lifecycle-queries";
import type { VersionRow } from "../model/version-row";
import { cleanBehind } from "./jobs/cleanup";
import { CleanupBacklog } from "./jobs/cleanup-backlog";
import { forRequest, type JobContext, type RowJob } from "./jobs/job";
import { MoveReport, REPORT_EVERY_MS } from "./move-report";
import type { Peers } from "./peer-share";
import { TransitionStats, type TransitionView } from "./transition-stats";

/**
 * A coordinator that is not the group's leader (Peers.leader) looks this often whether it has
 * become it: the takeover waits for the presence to show the leader gone, then up to this.
 */
const STANDBY_MS = 500;
/** Rows per catalogue page: one index range read each. */
const PAGE = 500;
/**
 * Versions of one transition moving at once. The job's catalogue reads and moves and the nodes'
 * Exchange streams batch whatever is in flight together, so this is what sets the batch size:
 * 512 small moves go as a few multi-row statements and packed messages, not 512 round trips.
 * A move waits on about six batches in turn (read, copy out, copy in, commit, delete the old
 * copies), each up to tens of ms on a loaded machine: 128 at once capped a transition at a few
 * hundred a second. Large objects queue on the copier's own one-at-a-time stream slot and hold
 * only a row here.
 */
const CONCURRENCY = 512;
/**
 * Old copies being deleted after their moves committed (CleanupBacklog), for every transition
 * together; past that their rows keep them listed, and are paged back in as room frees.
 */
const CLEANUP_BACKLOG = 4 * CONCURRENCY;
/** Of those, the sweep (stragglers and retries) may hold this many, so it never starves the front. */
const SWEEP_CONCURRENCY = 128;
/** The front looks again at least this often, whatever it expects: rows another coordinator adds. */
const MAX_SLEEP_MS = 500;
/**
 * Passes of a front whose rows are due as they appear (trash moves) begin at least this far apart,
 * woken or not (every delete wakes the trash front: woken, it looks once this long has passed since
 * its last pass began). Each pass reads the
 * lookback's second of deletes again, and its moves batch together: at 50 ms (20 passes a second)
 * the overwrite row paid 0.19-0.26 MariaDB commits and 1.3-1.9 statements per request, at 200 ms
 * 0.10-0.16 and 0.9-1.2, MariaDB's CPU per request 0.57-0.81x (500 ms: a little fewer, for up to
 * 0.45 s more lateness per trash move). bench/README.md "MariaDB's CPU per overwrite op: the trash
 * front's passes".
 */
const APPEARING_MIN_PASS_MS = 200;
/**
 * A front whose rows are due as they appear (trash moves: due at the delete) cannot sleep until the
 * next one: it looks this often. A delete through this coordinator wakes it (APPEARING_MIN_PASS_MS);
 * one through another coordinator (or SQL) waited up to MAX_SLEEP_MS, which was most of a trash
 * move's lateness on an idle cluster (bench: p99 0.82-1.07 s at 1,000-1,500 deletes a second, up to
 * 0.5 s of it the sleep). A look is one index range read (the last second of deletes, the lookback).
 * As often as its passes may begin (it was 100 ms: 10 looks a second on an idle cluster).
 */
const APPEARING_POLL_MS = APPEARING_MIN_PASS_MS;
/**
 * A front whose rows come due by a column (demotions, purges) reads from its cursor on, nothing
 * again, and sleeps until its next row is due: its passes begin at least this far apart. At 200 ms,
 * as for the trash front, the whole bench's lifecycle row (1,667 due a second) moved demotions at
 * p50 250 ms, p99 1,450 ms late, against 70 / 250 at 50 (2026-12-03, bench/README.md "This session's
 * start and end, whole bench with `--compare`").
 */
const MIN_PASS_MS = 50;
/** Between two sweeps, at least this long, and at least four times the last sweep took. */
const SWEEP_PAUSE_MS = 2000;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
/** Rows remembered as backing off (oldest forgotten first: the sweep finds them again). */
const MAX_BACKOFF = 100_000;
/** Rows remembered as settled, so a page read before a row moved does not move it again. */
const MAX_SETTLED = 100_000;
/** Failures are logged at most this often per transition, with a count. */
const WARN_EVERY_MS = 10_000;

/** One transition the poller runs: where its due rows are, and the job that moves one of them. */
export interface DueTransition {
  /** The queue name of its job, and its name in /status. */
  readonly name: string;
  readonly job: RowJob;
  /** Followed as rows come due: its cursor only moves forward. */
  readonly front: DueScan;
  /** Walked from the start every sweep: rows behind the front (retries, stragglers). */
  readonly sweep: readonly DueScan[];
  /**
   * The sweep's scans read only rows at or behind the front's cursor on the front's column, though
   * they walk another index: every row ahead is the front's (it reads them all, as they are due as
   * they appear). Only where that holds: a front that stops at its due time leaves rows ahead that
   * only the sweep may reach.
   */
  readonly sweepBehindFront?: boolean;
  /** Where the front starts (default: the beginning). */
  initialCursor?(): Promise<DueCursor>;
  /** Rows whose scan column is at or below this are due now. */
  dueBy(): Promise<number>;
  /** Now, on the clock the transition is due on. */
  now(): Promise<number>;
  /** When a row came due, on that clock (for lateness). */
  dueAt(v: VersionRow): number;
  /** When a row with this scan column comes due; absent when rows are due as they appear. */
  columnDue?(at: number): number;
  /**
   * How far behind its cursor the front reads again each pass: rows can commit a little out of
   * their column's order (a grouped delete takes its purge time before its commit).
   */
  readonly lookbackMs: number;
  /** Job outcomes that mean the version moved (counted, with their lateness). */
  readonly moved: readonly string[];
}

export type { Peers };

class Lane {
  cursor: DueCursor = START_CURSOR;
  readonly slots = new Semaphore(CONCURRENCY);
  readonly sweepSlots = new Semaphore(SWEEP_CONCURRENCY);
  /** Dispatched (or about to be) and not settled: never dispatched twice. */
  readonly inFlight = new Set<string>();
  /** `forNodes`: the move failed for want of a reachable node, so a node's return ends the wait. */
  readonly backoff = new Map<string, { until: number; attempts: number; forNodes: boolean }>();
  /**
   * When each row's last move settled (performance.now()): a page read before that holds the row
   * as it was, and moving it again would only copy bytes for a commit bound to lose.
   */
  readonly settled = new Map<string, number>();
  readonly stats: TransitionStats;
  wakeFront?: () => void;
  woken = false;
  failuresSinceWarn = 0;
  lastWarn = 0;

  constructor(readonly t: DueTransition) {
    this.stats = new TransitionStats(t.name);
  }

  /**
   * `<transition>.<what>` of each series recorded, built once: a name built per record (four a
   * move) was a new string to hash at each timeline lookup (timeline.record ~1 % of the
   * coordinator's samples in the lifecycle bench's trash phase, 2026-12-07).
   */
  private readonly series = new Map<string, string>();

  /** Into the process's timeline (GET /status/timeline), as `<transition>.<what>`, in ms. */
  record(what: string, ms: number): void {
    let name = this.series.get(what);
    if (name === undefined) this.series.set(what, (name = `${this.t.name}.${what}`));
    timeline.record(name, ms);
  }
}

/**
 * Finds due transitions in the catalogue and moves them, without a queue in between. Per
 * transition, a front walks the due rows in index order with a keyset cursor and sleeps until the
 * next row comes due (or MAX_SLEEP_MS), so a move starts within a page's time of its due time
 * whatever the idle time; a sweep walks from the start every few seconds for what the front left
 * behind. A row whose move fails is not looked at again until its backoff ends, and the cursor
 * moves past it: rows that cannot move never hold up the ones behind them (review finding 2).
 *
 * Of several coordinators, only the group's leader runs it (Peers.leader: the oldest live one); the
 * others stand by and take over once the presence shows it gone. Each used to read every due page
 * and keep its share by a hash of the version id: every page was read by each coordinator, and the
 * trash front's 100 ms looks ran on each (bench, two coordinators, all requests on one: the idle
 * one burned 53-86 µs of CPU per request and MariaDB ~50 µs more). A row two of them take at once
 * (while they disagree on who leads) is still moved once: every job re-reads the version and
 * commits with a conditional UPDATE.
 */
export class DuePoller {
  private readonly lanes: Lane[];
  private readonly loops: Promise<void>[] = [];
  private readonly moving = new Set<Promise<void>>();
  private stopped = false;
  private readonly stopping: Promise<void>;
  private signalStop!: () => void;
  /** Sweeps pausing between passes: stop() and nodesReturned() end their pause. */
  private readonly pauseWaiters = new Set<() => void>();
  private readonly cleanups: CleanupBacklog;
  /** The jobs' context, with the old copies' deletes taken out of the moves' path. */
  private readonly jobs: JobContext;

  constructor(
    transitions: readonly DueTransition[],
    private readonly queries: LifecycleQueries,
    jobs: JobContext,
    private readonly peers: Peers,
    private readonly log: Logger,
    opts: { cleanupBacklog?: number } = {},
  ) {
    this.cleanups = new CleanupBacklog(opts.cleanupBacklog ?? CLEANUP_BACKLOG);
    this.stopping = new Promise((resolve) => (this.signalStop = resolve));
    this.lanes = transitions.map((t) => new Lane(t));
    this.jobs = { ...jobs, cleanupBacklog: this.cleanups };
  }

  start(): void {
    for (const lane of this.lanes) this.loops.push(this.front(lane), this.sweep(lane));
    this.loops.push(this.pageCleanupsBack(), this.reportMoves());
  }

  /** Something may have come due (a delete): the named transition's front looks now. */
  wake(name: string): void {
    const lane = this.lanes.find((l) => l.t.name === name);
    if (!lane) return;
    lane.woken = true;
    lane.wakeFront?.();
  }

  /**
   * A node became reachable again: rows that failed for want of nodes are retried now, not when
   * their backoff ends. Backoff doubles up to a minute while a node is away (measured in
   * lifecycle-chaos: trash moves waited 8-16 s after the delete node was back); a row that
   * failed for another reason keeps its backoff.
   */
  nodesReturned(): void {
    let forgiven = 0;
    for (const lane of this.lanes) {
      for (const [id, b] of lane.backoff) {
        if (!b.forNodes) continue;
        lane.backoff.delete(id);
        forgiven++;
      }
    }
    if (!forgiven) return;
    // The fronts' cursors are past those rows: the sweeps find them, starting now.
    for (const w of this.pauseWaiters) w();
  }

  status(): TransitionView[] {
    return this.lanes.map((l) => l.stats.view(l.backoff.size, l.inFlight.size));
  }

  /** Versions each transition is moving now (for /status's queue view). */
  inFlight(name: string): number {
    return this.lanes.find((l) => l.t.name === name)?.inFlight.size ?? 0;
  }

  /** Old copies being deleted after their moves returned (CleanupBacklog). */
  cleanupsPending(): number {
    return this.cleanups.size;
  }

  /** Versions each transition holds back after a failure. */
  backingOff(name: string): number {
    return this.lanes.find((l) => l.t.name === name)?.backoff.size ?? 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    for (const w of this.pauseWaiters) w();
    for (const l of this.lanes) l.wakeFront?.();
    await Promise.all(this.loops);
    await Promise.allSettled([...this.moving]);
    await this.cleanups.idle();
  }

  private async front(lane: Lane): Promise<void> {
    const { t } = lane;
    while (!this.stopped) {
      const started = performance.now();
      if (!this.leads()) {
        // Should it lead again later, it starts afresh (initialCursor), its sweep behind it.
        lane.cursor = START_CURSOR;
        await this.sleepFront(lane, STANDBY_MS, started);
        continue;
      }
      try {
        if (lane.cursor === START_CURSOR && t.initialCursor) lane.cursor = await t.initialCursor();
        lane.woken = false;
        let at: DueCursor = t.lookbackMs ? { at: lane.cursor.at - t.lookbackMs, versionId: "" } : lane.cursor;
        for (;;) {
          const readAt = performance.now();
          const page = await this.queries.duePage(t.front, at, await t.dueBy(), PAGE);
          lane.record("page", performance.now() - readAt);
          for (const v of page) await this.dispatch(lane, v, readAt, false);
          lane.record("dispatched", performance.now() - readAt);
          if (page.length) {
            at = cursorOf(page[page.length - 1], t.front);
            if (after(at, lane.cursor)) lane.cursor = at;
          }
          if (page.length < PAGE || this.stopped || !this.leads()) break;
        }
        await this.sleepFront(lane, await this.untilNextDue(lane), started);
      } catch (e) {
        this.warn(lane, e, "could not read due versions");
        await this.sleepFront(lane, 1000, started);
      }
    }
  }

  /** Ms until the front's next row comes due (at most MAX_SLEEP_MS). */
  private async untilNextDue(lane: Lane): Promise<number> {
    const { t } = lane;
    if (lane.woken) return 0;
    if (!t.columnDue) return APPEARING_POLL_MS;
    const next = await this.queries.nextAfter(t.front, lane.cursor);
    if (next === null) return MAX_SLEEP_MS;
    return Math.min(MAX_SLEEP_MS, Math.max(0, t.columnDue(next) - (await t.now())));
  }

  private sleepFront(lane: Lane, ms: number, passStarted: number): Promise<void> {
    const earliest = passStarted + (lane.t.columnDue ? MIN_PASS_MS : APPEARING_MIN_PASS_MS);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        lane.wakeFront = undefined;
        const left = earliest - performance.now();
        if (left > 0 && !this.stopped) setTimeout(resolve, left);
        else resolve();
      };
      const timer = setTimeout(done, ms);
      lane.wakeFront = done;
      if (lane.woken || this.stopped) done();
    });
  }

  private async sweep(lane: Lane): Promise<void> {
    const { t } = lane;
    let pause = 0; // the first sweep at once: what came due while no coordinator ran
    while (!this.stopped) {
      await this.pause(pause);
      if (!this.leads()) {
        pause = STANDBY_MS; // and once it leads, a sweep at once: what the former leader left
        continue;
      }
      const started = performance.now();
      try {
        for (const scan of t.sweep) {
          // On the front's own scan, only the rows behind its cursor are the sweep's: the front
          // reads every row ahead of it. Walking those too re-read the whole backlog every few
          // seconds while the moves fell behind (10,000 rows a sweep, each parsed and dropped).
          const upTo = scan === t.front ? lane.cursor : undefined;
          // Another index (the trash front's rows by delete, the sweep's by tier): the bound goes in
          // the query. Without it, under a backlog, each sweep re-read every trash row still to move
          // and moved them in access order, ahead of the front and against its delete order.
          const bound = t.sweepBehindFront && !upTo ? { column: t.front.column, at: lane.cursor.at } : undefined;
          let at = START_CURSOR;
          while (!this.stopped) {
            const readAt = performance.now();
            const page = await this.queries.duePage(scan, at, await t.dueBy(), PAGE, bound);
            lane.record("sweep.page", performance.now() - readAt);
            const behind = upTo ? page.filter((v) => !after(cursorOf(v, scan), upTo)) : page;
            for (const v of behind) await this.dispatch(lane, v, readAt, true);
            if (page.length < PAGE || behind.length < page.length || !this.leads()) break;
            at = cursorOf(page[page.length - 1], scan);
          }
        }
      } catch (e) {
        this.warn(lane, e, "could not sweep due versions");
      }
      pause = Math.max(SWEEP_PAUSE_MS, 4 * (performance.now() - started));
    }
  }

  /**
   * The old copies the backlog had no room for (their rows list them): once some were left, walks
   * the rows with pending copies (all of them: only this coordinator's own moves, as leader, leave
   * some here; one two coordinators clean at once is cleaned as the cleanup job, which any runs, does) and hands each to the backlog as room
   * frees, so the deletes keep going at their own rate behind the moves. Each walk reads the table
   * once; another follows only if more were left meanwhile (rows whose node is away are tried once
   * a walk, and meanwhile by the cleanup job with its backoff).
   */
  private async pageCleanupsBack(): Promise<void> {
    let failed = false;
    while (!this.stopped) {
      if (!failed) await this.cleanups.whenLeft(this.stopping);
      this.cleanups.takeLeft();
      failed = false;
      try {
        let after = "";
        while (!this.stopped) {
          const ids = await this.queries.leftoverPage(after, PAGE);
          for (const id of ids) {
            if (this.stopped) break;
            if (!this.cleanups.has(id)) await this.cleanups.add(id, () => cleanBehind(this.jobs, id));
          }
          if (ids.length < PAGE) break;
          after = ids[ids.length - 1];
        }
      } catch (e) {
        this.log.warn({ err: e }, "could not read the versions with old copies to delete; trying again");
        failed = true;
        await this.pause(1000);
      }
    }
  }

  /** One info line every REPORT_EVERY_MS while moves happen (and one at stop), the moves' own lines being debug. */
  private async reportMoves(): Promise<void> {
    const report = new MoveReport(this.lanes.map((l) => l.stats));
    let since = performance.now();
    for (;;) {
      const stopped = this.stopped;
      // Woken early (a node returned, which ends every pause) it waits out the rest.
      if (!stopped && performance.now() - since < REPORT_EVERY_MS) {
        await this.pause(REPORT_EVERY_MS - (performance.now() - since));
        continue;
      }
      const counts = report.next();
      if (counts) this.log.info({ ...counts, overMs: Math.round(performance.now() - since) }, "lifecycle moves");
      since = performance.now();
      if (stopped) return;
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pauseWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.pauseWaiters.add(done);
    });
  }

  /**
   * Starts a row's move once a slot is free, unless it is moving, backing off, or its last move
   * settled after `readAt` (when its page was read).
   */
  private async dispatch(lane: Lane, v: VersionRow, readAt: number, sweeping: boolean): Promise<void> {
    const id = v.versionId;
    if (this.stopped || lane.inFlight.has(id) || (lane.settled.get(id) ?? -1) >= readAt) return;
    const b = lane.backoff.get(id);
    if (b && b.until > Date.now()) return;
    lane.inFlight.add(id);
    const waitFrom = performance.now();
    if (sweeping) await lane.sweepSlots.acquire();
    await lane.slots.acquire();
    lane.record("slot", performance.now() - waitFrom);
    const moving = this.move(lane, v).finally(() => {
      lane.settled.delete(id); // re-inserted last: the oldest entry is the first forgotten
      lane.settled.set(id, performance.now());
      if (lane.settled.size > MAX_SETTLED) lane.settled.delete(lane.settled.keys().next().value!);
      lane.inFlight.delete(id);
      lane.slots.release();
      if (sweeping) lane.sweepSlots.release();
      this.moving.delete(moving);
    });
    this.moving.add(moving);
  }

  private async move(lane: Lane, v: VersionRow): Promise<void> {
    const { t } = lane;
    try {
      // The move names the request that sent its version toward the trash (a delete, an overwrite:
      // the row's request_id, read with its page): its log lines and node ops carry it.
      const started = performance.now();
      const outcome = await t.job.fromRow(v, forRequest(this.jobs, v.requestId ?? undefined));
      lane.backoff.delete(v.versionId);
      if (t.moved.includes(outcome)) {
        // How late it committed, and of that, how long the move itself took (the rest: until it started).
        const took = performance.now() - started;
        const late = (await t.now()) - t.dueAt(v);
        lane.stats.recordMoved(late);
        lane.record("late", late);
        lane.record("move", took);
        lane.record("pickup", late - took);
      } else lane.stats.recordNotMoved(outcome);
    } catch (e) {
      lane.stats.recordFailed();
      const attempts = (lane.backoff.get(v.versionId)?.attempts ?? 0) + 1;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempts - 1)) * (0.75 + Math.random() / 2);
      lane.backoff.delete(v.versionId); // re-inserted last: the oldest entry is the first forgotten
      lane.backoff.set(v.versionId, { until: Date.now() + delay, attempts, forNodes: wantsNodes(e) });
      if (lane.backoff.size > MAX_BACKOFF) lane.backoff.delete(lane.backoff.keys().next().value!);
      this.log.debug({ version: v.versionId, transition: t.name, attempts, err: e }, "transition failed; will retry");
      this.warn(lane, e, "transitions failed; each is retried with backoff");
    }
  }

  /** Whether this coordinator is the group's leader, as of the last look at who is live. */
  private leads(): boolean {
    return this.peers.leader() === this.peers.id;
  }

  private warn(lane: Lane, e: unknown, what: string): void {
    lane.failuresSinceWarn++;
    const now = performance.now();
    if (now - lane.lastWarn < WARN_EVERY_MS) return;
    this.log.warn({ transition: lane.t.name, count: lane.failuresSinceWarn, backingOff: lane.backoff.size, err: e }, what);
    lane.lastWarn = now;
    lane.failuresSinceWarn = 0;
  }
}

/** The move failed because too few nodes could be reached (not because of the row or the bytes). */
function wantsNodes(e: unknown): boolean {
  return [ErrorCode.NotEnoughNodes, ErrorCode.NodeUnavailable, ErrorCode.QuorumNotReached, ErrorCode.BytesUnreachable].some((c) =>
    hasCode(e, c),
  );
}

function cursorOf(v: VersionRow, scan: DueScan): DueCursor {
  return { at: scan.column === "accessed_ms" ? v.accessedMs : (v.purgeMs ?? 0), versionId: v.versionId };
}

function after(a: DueCursor, b: DueCursor): boolean {
  return a.at > b.at || (a.at === b.at && a.versionId > b.versionId);
}
