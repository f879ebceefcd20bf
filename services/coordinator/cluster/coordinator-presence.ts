import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Pool, RowDataPacket } from "mysql2/promise";
import { ErrorCode, MiniS3Error } from "../../common/errors";
import type { Logger } from "../../common/logger";
import { READ_FENCE_SQL, type CacheFence } from "./cache-fence";

/**
 * This process's id among coordinators: host and gRPC port for people to read, and a random part,
 * so that no two processes ever share one (two hosts of the same name and port each took the other
 * for itself and cached forever; a restarted process must not pass for its former self).
 */
export function coordinatorId(grpcPort: number): string {
  const where = `${hostname()}:${grpcPort || `pid${process.pid}`}`.replace(/[^A-Za-z0-9._:-]/g, "_").slice(0, 200);
  return `${where}/${randomBytes(6).toString("hex")}`;
}

/** Time on this process's monotonic clock, and waiting on it; a fake one in tests. */
export interface PresenceClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const MONOTONIC: PresenceClock = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

/** A peer's row as last seen, and when (here, monotonic) it was first seen as it is. */
interface Peer {
  beat: number;
  pid: number | undefined;
  stopped: boolean;
  changedAt: number;
  /** When its row was first written (MariaDB's clock: one clock for all), for leader(). */
  startedAt: number;
  /** Its row says its read cache is idle (announceCacheIdle), as of the last look. */
  cacheIdle: boolean;
}

/** Slack for the rates of two monotonic clocks over two intervals (as the bus's lease margin). */
const CLOCK_MARGIN_MS = 100;

/**
 * The heartbeat's upsert. A row's cache_idle is taken only from a beat carrying a newer cache_seq
 * (assignments run left to right, so the IF reads the old seq): a beat that lands late cannot
 * undo an announcement made after it was sent.
 */
export const BEAT_SQL = `INSERT INTO coordinators (id, state, started_at, heartbeat_at, beat, pid, metrics_port, cache_idle, cache_seq)
    VALUES (?, 'up', NOW(3), NOW(3), 1, ?, ?, ?, ?)
  ON DUPLICATE KEY UPDATE beat = beat + 1, heartbeat_at = NOW(3),
    cache_idle = IF(VALUES(cache_seq) > cache_seq, VALUES(cache_idle), cache_idle),
    cache_seq = GREATEST(cache_seq, VALUES(cache_seq))`;

/**
 * Coordinators announce themselves in `coordinators`, one row each with a `beat` counter that every
 * heartbeat bumps (one three-statement round trip per interval, which also reads everyone's rows and
 * the read caches' fence epoch, CacheFence). Two things hang on it:
 *
 * The writer's lease (`admit()`, asked by the catalogue's fencedPool). A coordinator changes the
 * catalogue only while its lease holds: a heartbeat sent at `s` while it held, once answered, holds
 * it until `s + leaseMs` (checked on the local monotonic clock: a comparison per write, no query).
 * If it lapses (a stall, MariaDB out of reach), writes answer CatalogueUnavailable until a new
 * heartbeat has landed and, if any other coordinator is up, two intervals have passed, so each of
 * them has seen the new beat and stopped caching.
 *
 * The reader's view (`aloneStretch()`: whether anyone else may be writing; the invalidation bus asks it). A peer is gone only once its beat has not
 * changed for `leaseMs + commitMs` on this process's monotonic clock, counted from the answer of the
 * first look that showed its current beat (only `commitMs` once its row says it stopped), judged by a
 * look sent after that; MariaDB's clock is never compared, so a step of it changes nothing. A peer
 * first seen is live for that long (it may be a writer that was here before us).
 *
 * Why no write lands in a stretch of being alone (A caches from the answer of a look sent at `d`,
 * and stops trusting that look at `d + 2 intervals`; B is the peer it took for gone):
 * - B's last renewal was a heartbeat sent at `s` that landed before A's look first showed it, which
 *   answered at `c`: so `s < c`, B's lease ended by `c + leaseMs`, and every write B admitted by then
 *   landed by `c + leaseMs + commitMs <= d`.
 * - A renewal B sent at `s2` while its lease held (`s2 < c + leaseMs`) either landed before the look
 *   at `d` (which then saw its beat: B was not taken for gone) or was answered after
 *   `d >= c + leaseMs + commitMs > s2 + leaseMs` (as commitMs >= leaseMs): it grants nothing.
 * - Any later heartbeat of B is a re-join: it landed after `d`'s look read the rows and B writes only
 *   two intervals after its answer, when A no longer trusts the look at `d`; A's next look sees the
 *   new beat and ends the stretch.
 * - A newcomer registers and reads in one statement pair, so of two starting together at least one
 *   sees the other; one that sees another up waits two intervals before it writes (as a re-join).
 * - A clean stop closes the lease before it marks the row stopped, so its last writes land within
 *   `commitMs` of A first seeing that mark.
 * The bound this rests on: a write admitted by the lease lands in MariaDB within `commitMs`
 * (MINIS3_NODE_DOWN_AFTER; catalogue transactions take milliseconds, and a write is admitted only
 * once it holds its connection, right before it is sent). A write that outlives it (a stall in that
 * instant, packets held by a partitioned network, a lock wait behind a stalled transaction) is not
 * fenced by MariaDB itself; it is logged, and makes this coordinator beat at once.
 */
export class CoordinatorPresence {
  /** A write admitted by the lease is assumed to land within this: MINIS3_NODE_DOWN_AFTER. */
  readonly commitMs: number;
  /** How long a heartbeat keeps the lease, from when it was sent: MINIS3_NODE_DOWN_AFTER too. */
  readonly leaseMs: number;
  private leaseUntil = -Infinity;
  /** After a (re-)join, writes wait until the others have seen this coordinator. */
  private writableFrom = Infinity;
  /** Counts (re-)joins: each starts a new stretch of holding the lease. */
  private joins = 0;
  private closed = false;
  /** The heartbeat writes that found the lease lapsed are waiting for (writable()). */
  private rejoin?: Promise<void>;

  private readonly peers = new Map<string, Peer>();
  private live: string[] = [];
  /** When this coordinator's own row was first written, as its last look read it. */
  private startedAt = -Infinity;
  private trustUntil = -Infinity;
  /**
   * Numbers the unbroken stretches of looks: a new one starts whenever the live peers change or a
   * look comes after the last one stopped being trusted (a stall, a slow database), because another
   * coordinator may have come, written and gone unseen in between.
   */
  private stretch = 0;
  private timer?: NodeJS.Timeout;
  /** This process's read cache as its beats announce it (announceCacheIdle), and the announcement's number. */
  private cacheIdle = false;
  private cacheSeq = 0;
  /** Its cache may serve from here on (cachingStretch); Infinity while idle or until peers must know it is not. */
  private cachingFrom = -Infinity;
  /** The latest look by when it was sent, and whether it showed a live peer whose cache may serve. */
  private lookSentAt = -Infinity;
  private peersCaching = true;

  constructor(
    private readonly pool: Pick<Pool, "query">,
    readonly id: string,
    private readonly intervalMs: number,
    downAfterMs: number,
    private readonly log: Logger,
    /** Told the read caches' fence epoch each look reads (same round trip). */
    private readonly fence?: Pick<CacheFence, "seen">,
    private readonly clock: PresenceClock = MONOTONIC,
    /** Where this coordinator's metrics are served (MINIS3_METRICS_PORT; a group's primary serves its workers'); null: off. */
    private readonly metricsPort: number | null = null,
  ) {
    this.leaseMs = downAfterMs;
    this.commitMs = downAfterMs;
  }

  /** Registers; if other coordinators are up, resolves only once they must have seen this one. */
  async start(): Promise<void> {
    await this.beat();
    this.log.info(
      { id: this.id, coordinators: this.live },
      this.live.length ? "other coordinators are live; waiting for them to see this one before writing" : "the only coordinator",
    );
    const wait = this.writableFrom - this.clock.now();
    if (wait > 0) {
      await this.clock.sleep(wait);
      await this.beat();
    }
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /**
   * Admits a catalogue write now, or refuses it with CatalogueUnavailable: a comparison on the
   * monotonic clock, made right before the write is sent (see fencedPool). Returns when.
   */
  admit(): number {
    const now = this.clock.now();
    if (now < this.writableFrom || now >= this.leaseUntil) {
      throw new MiniS3Error(
        ErrorCode.CatalogueUnavailable,
        this.closed ? "this coordinator is stopping" : "this coordinator could not renew its presence lease in time; it is re-joining",
      );
    }
    return now;
  }

  /**
   * Resolves once admit() may pass, or once it cannot within the lease (admit() then says why): for
   * a write that found the lease lapsed, so that it re-joins now and waits, rather than answering 503
   * until the next timed heartbeat. After a MariaDB restart that outlasted the lease (3.5 s down,
   * 3 s lease, 1 s interval: catalogue-outage.test.ts, 2 runs of 2), reads answered at once while
   * all 16 uploads and deletes of a burst got a 503: they wait for the next beat to land (up to an
   * interval; two more when another coordinator is up). A beat sent for
   * a write is a heartbeat like any other (judged by when it was sent, as the timed ones are), and
   * a re-join still waits for the others to see it, so the fence's reasoning above is unchanged.
   * Concurrent writes share one beat. The caller holds no connection meanwhile (fencedPool).
   */
  async writable(): Promise<void> {
    const deadline = this.clock.now() + this.leaseMs;
    if (this.closed || this.writableStretch() !== undefined) return;
    if (this.clock.now() >= this.leaseUntil) {
      // A beat that hangs (MariaDB stalled) holds the writes no longer than the lease.
      this.rejoin ??= Promise.race([this.beat(), this.clock.sleep(this.leaseMs)]).finally(() => (this.rejoin = undefined));
      await this.rejoin;
    }
    const wait = this.writableFrom - this.clock.now();
    if (!this.closed && wait > 0 && this.clock.now() + wait <= deadline) await this.clock.sleep(wait);
  }

  /** A write admitted at `admittedAt` has finished: one that took longer than the fence allows is told. */
  settled(admittedAt: number): void {
    const took = this.clock.now() - admittedAt;
    if (took <= this.commitMs) return;
    this.log.warn(
      { tookMs: Math.round(took) },
      "a catalogue write outlived the presence fence: another coordinator may have cached across it",
    );
    void this.beat(); // so that such a coordinator sees this one at its next look
  }

  /**
   * The current stretch of holding the writer's lease (admit() would pass now), or undefined; a new
   * one begins at each (re-)join. A read cache serves only within one (see InvalidationBus): so a
   * coordinator that others' looks may not show yet serves nothing, and one whose lease lapsed
   * drops what it cached.
   */
  writableStretch(): number | undefined {
    const now = this.clock.now();
    return now >= this.writableFrom && now < this.leaseUntil ? this.joins : undefined;
  }

  /**
   * The current stretch of being the only live coordinator (the last look is recent and saw no one
   * else live), or undefined. Within one stretch no other coordinator's write lands; what was read
   * in an earlier one may be stale.
   */
  aloneStretch(): number | undefined {
    return this.live.length === 0 && this.clock.now() < this.trustUntil ? this.stretch : undefined;
  }

  others(): readonly string[] {
    return this.live;
  }

  /**
   * The read cache says whether it is idle (serving nothing). Idle takes effect here at once
   * (cachingStretch() is undefined from now on) and is then announced in this row; caching again is
   * announced first and takes effect two intervals after the beat that carried it was answered, by
   * when every other coordinator's look trusted for skipping invalidations (peersIdleAt) was sent
   * after the row said so. A row first written says caching (and a newcomer serves only once the
   * others must have seen it: writableStretch), so an announcement is only needed after an idle one.
   */
  announceCacheIdle(idle: boolean): void {
    if (idle === this.cacheIdle) return;
    this.cacheIdle = idle;
    this.cacheSeq++;
    this.cachingFrom = Infinity;
    if (this.timer) void this.beat(); // before start(), its own beats carry it
  }

  /**
   * The current stretch of this cache being announced as caching (a new one at each announcement),
   * or undefined: the read cache serves only within one (InvalidationBus.leaseStretch).
   */
  cachingStretch(): number | undefined {
    return this.clock.now() >= this.cachingFrom ? this.cacheSeq : undefined;
  }

  /**
   * Whether no other coordinator's cache can be serving at `t0` (after a commit), so that the change
   * needs no invalidation (the bus's rule 8): the latest look was sent less than two intervals (less
   * a margin) before `t0` and showed every live peer idle or stopped. A peer that look showed idle
   * and that announced caching after it serves only two intervals after that announcement landed,
   * so after `t0`, from a new stretch; a peer it did not show at all joined after it and serves only
   * once this coordinator must have seen it (writableStretch); one it took for gone holds no lease
   * and must re-join the same way.
   */
  peersIdleAt(t0: number): boolean {
    return !this.peersCaching && t0 < this.lookSentAt + 2 * this.intervalMs - CLOCK_MARGIN_MS;
  }

  /**
   * The coordinator that runs the group's background duties (the lifecycle's due-row poller,
   * lifecycle/due-poller.ts): the oldest live one by its row's started_at (then id), so a newcomer
   * never takes the role from one that holds it, and the next oldest takes it once this one is
   * gone from the presence (the same wait as any peer's share moving). This one until its first look.
   */
  leader(): string {
    let best = { id: this.id, at: this.startedAt };
    for (const id of this.live) {
      const at = this.peers.get(id)?.startedAt ?? Infinity;
      if (at < best.at || (at === best.at && id < best.id)) best = { id, at };
    }
    return best.id;
  }

  /** A peer's process id (on its own host), as its row says. */
  pidOf(id: string): number | undefined {
    return id === this.id ? process.pid : this.peers.get(id)?.pid;
  }

  /** Clean shutdown: no write is admitted from now on; the others may cache again soon. */
  async leave(): Promise<void> {
    clearInterval(this.timer);
    this.closed = true;
    this.leaseUntil = -Infinity;
    await this.pool.query("UPDATE coordinators SET state = 'stopped', beat = beat + 1 WHERE id = ?", [this.id]);
  }

  /**
   * One heartbeat and look; failures are logged (the lease then runs out by itself). One that hangs
   * does not hold up the next: each is judged by when it was sent.
   */
  private async beat(): Promise<void> {
    if (this.closed) return;
    try {
      const sentAt = this.clock.now();
      const [cacheIdle, cacheSeq] = [this.cacheIdle, this.cacheSeq];
      const [results] = await this.pool.query<RowDataPacket[][]>(
        `${BEAT_SQL};
         SELECT id, state, beat, pid, cache_idle, CAST(UNIX_TIMESTAMP(started_at) * 1000 AS UNSIGNED) AS started FROM coordinators;
         ${READ_FENCE_SQL}`,
        [this.id, process.pid, this.metricsPort, cacheIdle ? 1 : 0, cacheSeq],
      );
      const answeredAt = this.clock.now();
      // Caching announced and landed: peers' looks sent from now on show it (announceCacheIdle).
      if (!cacheIdle && cacheSeq === this.cacheSeq && this.cachingFrom === Infinity) this.cachingFrom = answeredAt + 2 * this.intervalMs;
      const all = results[1] as RowDataPacket[];
      const own = all.find((r) => r.id === this.id);
      if (own) this.startedAt = Number(own.started);
      const rows = all.filter((r) => r.id !== this.id);
      const epoch = (results[2] as RowDataPacket[] | undefined)?.[0]?.epoch as unknown;
      if (epoch !== undefined && epoch !== null) this.fence?.seen(sentAt, String(epoch));
      if (!this.closed) this.renew(sentAt, answeredAt, rows);
      await this.observe(sentAt, answeredAt, rows);
    } catch (e) {
      this.log.warn({ err: e }, "coordinator heartbeat failed");
    }
  }

  private renew(sentAt: number, answeredAt: number, rows: RowDataPacket[]): void {
    if (sentAt < this.leaseUntil) {
      this.leaseUntil = Math.max(this.leaseUntil, sentAt + this.leaseMs);
      return;
    }
    // A (re-)join: others that may cache must see this beat first.
    this.joins++;
    const othersUp = rows.some((r) => r.state === "up");
    this.writableFrom = othersUp ? answeredAt + 2 * this.intervalMs : answeredAt;
    this.leaseUntil = sentAt + this.leaseMs;
    if (this.timer) this.log.warn("presence lease had lapsed: re-joining, catalogue writes refused meanwhile");
  }

  private async observe(sentAt: number, answeredAt: number, rows: RowDataPacket[]): Promise<void> {
    for (const r of rows) {
      const beat = Number(r.beat);
      const stopped = r.state !== "up";
      const pid = r.pid === null || r.pid === undefined ? undefined : Number(r.pid);
      const p = this.peers.get(r.id as string);
      const startedAt = Number(r.started);
      const cacheIdle = Number(r.cache_idle) === 1;
      if (!p || p.beat !== beat || p.stopped !== stopped)
        this.peers.set(r.id as string, { beat, pid, stopped, changedAt: answeredAt, startedAt, cacheIdle });
      else p.cacheIdle = cacheIdle;
    }
    // A row gone from the table (another coordinator forgot it) proves nothing: its peer keeps its clock here.
    const live: string[] = [];
    const forget: [string, number][] = [];
    for (const [id, p] of this.peers) {
      const quiet = sentAt - p.changedAt;
      if (quiet < (p.stopped ? this.commitMs : this.leaseMs + this.commitMs)) live.push(id);
      else if (quiet >= FORGET_AFTER_MS) forget.push([id, p.beat]);
    }
    live.sort();
    if (sentAt > this.lookSentAt) {
      this.lookSentAt = sentAt;
      this.peersCaching = live.some((id) => {
        const p = this.peers.get(id)!;
        return !p.stopped && !p.cacheIdle;
      });
    }
    const changed = live.join(",") !== this.live.join(",");
    if (changed || sentAt >= this.trustUntil) this.stretch++;
    this.live = live;
    this.trustUntil = sentAt + 2 * this.intervalMs;
    if (changed && this.timer) {
      this.log.info({ coordinators: live }, live.length ? "other coordinators are live" : "this is the only coordinator");
    }
    for (const [id, beat] of forget) {
      // Long gone: its row goes (only as last seen); should it come back, it re-joins.
      await this.pool.query("DELETE FROM coordinators WHERE id = ? AND beat = ?", [id, beat]);
      this.peers.delete(id);
    }
  }
}

/** A coordinator silent this long has its row removed, so rows of past processes do not pile up. */
const FORGET_AFTER_MS = 10 * 60_000;
