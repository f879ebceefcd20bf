import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { GroupCommit } from "../../common/group-commit";
import type { Logger } from "../../common/logger";
import type { CacheFence } from "./cache-fence";
import type { CoordinatorPresence } from "./coordinator-presence";

/** A key whose visible version a change may have touched. */
export interface CachedKey {
  bucket: string;
  key: string;
}

/** Time on this process's monotonic clock (performance.now: it runs on through SIGSTOP and GC). */
export interface BusClock {
  now(): number;
}

const MONOTONIC: BusClock = { now: () => performance.now() };

/** Slack for the rates of two monotonic clocks and a timer firing late; the lease is ~2 s. */
export const LEASE_MARGIN_MS = 100;

/**
 * A cache nobody has asked for this long stops renewing its lease (rule 6), so its peers' writes
 * stop waiting for its acks. Long enough that a worker serving any steady load never lapses.
 */
export const IDLE_LEASE_MS = 10_000;

/** A PING on the subscription (rule 7) unanswered this long: publish instead (as long as a PUBLISH may take). */
const PING_TIMEOUT_MS = 1000;

type Message =
  /** Keys and versions a commit of `from` touched; `seq` counts `from`'s invalidations. */
  | { t: "inv"; from: string; seq: number; keys: [string, string][]; versions: string[] }
  /** `from` has dropped every invalidation of each writer up to the given seq. */
  | { t: "ack"; from: string; upTo: Record<string, number> }
  /** A lease renewal: `at` is `from`'s monotonic time when it published, `session` its subscription's. */
  | { t: "hb"; from: string; at: number; session: number }
  /** `from` has stopped serving from its cache for good (a clean stop). */
  | { t: "bye"; from: string };

/** A lease a read cache serves under (InvalidationBus.leasesMissing). */
export type CacheLease = "redis" | "presence" | "fence" | "announcement";

/** What one change touched. */
interface Change {
  keys: readonly CachedKey[];
  versionIds: readonly string[];
}

/** One published invalidation waiting to be safe to acknowledge. */
interface Waiter {
  seq: number;
  /** Past this, every lease granted before the invalidation reached Redis has lapsed. */
  hardUntil: number;
  /** Set once its echo came back: the peers it waits for, each until its lease must have lapsed. */
  peers?: Map<string, number>;
  /** Not before this (peers this process may not have heard of yet); set with `peers`. */
  notBefore: number;
  timer?: NodeJS.Timeout;
  resolve: () => void;
  /** The change must not be acknowledged: not published, and the fence could not be raised. */
  reject: (e: unknown) => void;
}

/**
 * The read caches of several coordinators kept coherent over one Redis pub/sub channel per cluster.
 * A write is acknowledged only once every coordinator that may be serving from its cache has
 * dropped what it touched, or can no longer be serving (its lease lapsed). The cost is one PUBLISH
 * and one ack from each peer per invalidation, which carries every change made while the one
 * before was in flight (so at most one per group commit), not per object.
 *
 * The channel is one stream that every subscriber receives in the order Redis ran the PUBLISHes
 * (from any connection). The first three rules stand on that order:
 *
 * 1. Lease. A cache serves only under a lease: it publishes a heartbeat carrying its monotonic time
 *    `p`, and when that heartbeat comes back through its own subscription (so every message Redis
 *    ran before it has been handled here first), the lease runs to `p + L`. A lapsed lease (a
 *    stall, Redis away or slow) drops everything cached, and the subscription's connection closing
 *    ends the lease at once (messages published meanwhile are lost, not queued), so a lease is only
 *    ever granted by a heartbeat from the current connection.
 * 2. Writer. After its commit, a writer publishes the keys; when the PUBLISH returns at `r`, every
 *    heartbeat Redis ran before the invalidation was published before `r`, so every lease that
 *    missed the invalidation ends before `r + L`: waiting until `r + L + margin` is always safe.
 *    It waits less when it can: once its own invalidation comes back through its subscription,
 *    every heartbeat Redis ran before it has been seen here, so the peers that may hold such a
 *    lease are those heard within the last `L + margin` (a heartbeat received at `q` was sent
 *    before `q`, its lease ends before `q + L`). It waits for each of their acks, or until that
 *    peer's lease must have lapsed. Heartbeats Redis ran after the invalidation grant nothing
 *    stale: their sender handled the invalidation before their echo.
 * 3. Newcomer. A peer that appeared after this process subscribed is heard (rule 2) before it can
 *    hold a lease that matters; for one that may have sent heartbeats before, this process counts
 *    its own first `L + margin` after its subscription's first message as "peers unknown" and
 *    waits them out (a lease from a heartbeat Redis ran before this subscription ends within L of
 *    it). So a coordinator that reconnects writes slowly for about L.
 * 4. Presence. A cache serves only while its coordinator's presence lease admits writes
 *    (CoordinatorPresence.writableStretch: after a (re-)join, once every other coordinator's look
 *    at `coordinators` must show it), and drops everything when that lease lapses. So while the
 *    presence shows this coordinator alone (aloneStretch: no other coordinator's write can land,
 *    by the argument written out there) no other cache can be serving either, and a change needs
 *    no invalidation at all: a lone coordinator pays nothing for the bus but its heartbeats.
 * 6. Idle. A cache that nothing has asked (leaseStretch()) for IDLE_LEASE_MS, or ever, sends no
 *    heartbeats, so its lease lapses and writers stop counting it among the peers they wait for; the
 *    next ask starts heartbeats again (a new stretch: nothing cached before is served) and answers
 *    from MariaDB until the first one comes back. Sending fewer heartbeats is always safe: they
 *    only grant leases. An idle cache also stops acknowledging once its last heartbeat is two leases
 *    old: a writer that heard that heartbeat waits for it only until its lease must have lapsed.
 *    Why: in a group whose primary gives one worker all the connections while it has room, the other
 *    serves nothing, yet every write waited for its ack: on this 2-core machine the bus cost ~5 % of
 *    the server CPU per op and a Redis round trip of every write's latency.
 * 5. Fence. A cache serves only while its fence lease (CacheFence: the epoch in MariaDB, read on
 *    each presence heartbeat) holds too, and drops everything when the epoch changes. A writer whose
 *    PUBLISH failed or timed out (it may still run, late) cannot know who heard it: it raises the
 *    epoch and waits the fence's lease + margin from the raise's answer, by when every peer has
 *    seen the new epoch or stopped serving. If the raise fails too, the change is not acknowledged.
 * 7. Quiet. A writer that has heard no peer's heartbeat since `t0 - L - margin` (`t0`: after its
 *    commit) and is past its subscription's first lease (rule 3) publishes nothing: it sends a PING
 *    on its subscribed connection at `t0`, whose reply comes after every message Redis pushed to it
 *    before running the PING, and if no peer's heartbeat was heard since `t0 - L - margin` by then
 *    either (same session), the change is safe to acknowledge. A peer's lease from a heartbeat Redis
 *    ran before the PING ended before `t0` (heard at `q`, sent before it, ended before `q + L`); one
 *    from a heartbeat Redis ran after it begins after `t0`, with every lease before it lapsed, so it
 *    is a new stretch: what that peer cached before is dropped, and its lookups in flight cannot
 *    fill. Otherwise (a peer heard, the PING failed or took over a second, the session changed) it
 *    publishes as in rule 2. Why: a group worker given no connections serves nothing (rule 6: no
 *    heartbeats), yet received every invalidation of the busy one, 60-150 a second in the bench's
 *    rows, each parsed and dropped from a cache that holds nothing (its `receive`, the read cache's
 *    `changed` and the GC after them, about half its busy time in a `--cpu-prof` of the overwrite
 *    row, 2026-12-02); Redis fanned each one out twice and the writer read its own echo back.
 * 8. Idle in the presence. A cache that idles (rule 6), or never caches, says so in its
 *    coordinator's presence row (CoordinatorPresence.announceCacheIdle) after it stops serving;
 *    asked again, it announces caching and serves only two presence intervals after that beat was
 *    answered. A writer whose latest presence look was sent less than two intervals (less a margin)
 *    before `t0` and showed every live peer idle or stopped acknowledges at once, with no Redis round
 *    trip at all: a peer that look did not show caching serves only after `t0`, from a new stretch
 *    (the argument is rule 4's, written out at peersIdleAt). Why: rule 7's PING was 4 ms of a loaded
 *    upload's median and 26 ms of its p99 in a group whose other worker serves nothing (2026-12-03).
 *
 * Interleavings, with A writing and B caching:
 * - B idle (no heartbeats), A's commits PING instead of publishing; B is asked: its heartbeat
 *   either ran before A's PING (A hears it before the reply and publishes, waiting for B's ack) or
 *   after it (B's lease starts a new stretch after A's commit, so B's cache is empty and its lookups
 *   read MariaDB after the commit). Likewise a peer (re)starting or resubscribing after a Redis restart.
 * - B stopped (SIGSTOP, GC) holding a lease from heartbeat `p`: A's invalidation gets no ack; A
 *   waits until B's last heartbeat heard + L + margin (≥ p + L), acknowledges; B wakes, its lease has
 *   lapsed on its own clock (monotonic time runs while stopped), so it serves nothing cached before
 *   a new heartbeat comes back, which comes after A's invalidation: B has dropped the key by then.
 * - A lookup B sent before A's commit and answered after it: its ticket is older than the
 *   invalidation's mark, so it cannot fill (ReadCache); one answered before the lease began (or
 *   across a lapse) is refused because the lease's stretch changed.
 * - Redis away: B's subscription closes (lease ends) or goes silent (lapses within L); A's PUBLISH
 *   fails, A raises the fence and waits out its lease (rule 5); writes go on, slower, caches off.
 *   A coordinator that the presence shows alone does not wait (rule 4).
 * - A cut off from Redis while B still reaches it: B's bus lease holds, but A's PUBLISH fails, A
 *   raises the fence, and B either reads the new epoch on a heartbeat (and drops its cache) or its
 *   fence lease lapses before A acknowledges (rule 5). Likewise a PUBLISH that times out after 1 s
 *   and that Redis runs later (a slow link): it is handled as not published; when it does arrive it
 *   only drops keys again.
 * - B's subscription drops and reconnects while A's invalidation is in the gap: B missed it, but its
 *   lease ended at the close and the next one starts a new stretch (everything cached dropped);
 *   lookups after it read MariaDB after A's commit. A, without B's ack, waited out B's old lease.
 * - B stops cleanly: it stops serving, then says bye; A stops waiting for it at once.
 * - A cut off from both Redis and MariaDB after its commit: the raise fails (retried for a lease),
 *   and the change answers CatalogueUnavailable: it may have landed, but is not acknowledged.
 */
export class InvalidationBus {
  private readonly leaseMs: number;
  private seq = 0;
  private readonly waiters = new Map<number, Waiter>();
  /**
   * One invalidation in flight, the changes made meanwhile gather for the next: a message costs
   * each coordinator a socket write or read (~50-150 µs of CPU here, like any round trip), so
   * under load they must not grow with the number of group commits.
   */
  private readonly batches = new GroupCommit<Change, void>((changes) => this.send(changes), { maxBatch: 4096 });
  private acks = new Map<string, number>();
  private acksScheduled = false;
  /** Peers heard from (heartbeats), when last (here, monotonic). */
  private readonly heard = new Map<string, number>();
  /** Bumped whenever the subscription's connection closes. */
  private session = 0;
  /** When the current session's first message arrived (undefined: none yet). */
  private sessionHeardFrom: number | undefined;
  private leaseUntil = -Infinity;
  /** Numbers the unbroken stretches of holding the lease (what the read cache keys its rows by). */
  private stretch = 0;
  /** What leaseStretch() last combined (this bus's, the presence's two, the fence's), and the number it gave. */
  private readonly lastStretches = [-1, -1, -1, -1];
  private combinedStretch = 0;
  private beatTimer?: NodeJS.Timeout;
  /** When leaseStretch() was last asked (rule 6), and when this process last sent a heartbeat. */
  private askedAt: number;
  private beatAt = -Infinity;
  private closed = false;

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly channel: string,
    readonly id: string,
    leaseMs: number,
    /** Drops what a peer's commit touched from the local cache (synchronously). */
    private readonly drop: (keys: readonly CachedKey[], versionIds: readonly string[]) => void,
    /** Whether this coordinator caches at all (a coordinator that does not still invalidates). */
    private readonly serving: boolean,
    /** Who else may be writing or serving (rule 4). */
    private readonly presence: Pick<
      CoordinatorPresence,
      "aloneStretch" | "writableStretch" | "cachingStretch" | "peersIdleAt" | "announceCacheIdle"
    >,
    /** The lease held through MariaDB, raised when an invalidation could not be published (rule 5). */
    private readonly fence: Pick<CacheFence, "stretch" | "raise" | "leaseMs">,
    private readonly log: Logger,
    private readonly clock: BusClock = MONOTONIC,
    private readonly idleLeaseMs = IDLE_LEASE_MS,
  ) {
    this.leaseMs = leaseMs;
    this.askedAt = -Infinity;
  }

  /** Subscribes (it does not wait for Redis: without it, caches stay off and writes wait L). */
  start(): void {
    // Rule 8: idle until first asked (rule 6), and for good when it caches nothing at all.
    this.presence.announceCacheIdle(true);
    this.sub.on("messageBuffer", (_channel: Buffer, payload: Buffer) => this.receive(payload));
    this.sub.on("close", () => {
      if (this.sessionHeardFrom !== undefined && !this.closed)
        this.log.warn("read-cache bus: Redis connection lost; cache off until it is back");
      this.session++;
      this.sessionHeardFrom = undefined;
      this.leaseUntil = -Infinity;
    });
    // Connection errors show as the close above (and failed publishes); ioredis would print each one.
    this.sub.on("error", () => undefined);
    this.pub.on("error", () => undefined);
    this.sub.subscribe(this.channel).catch((e: unknown) => this.log.warn({ err: e }, "read-cache bus: subscribe failed"));
    // No heartbeats until the cache is first asked (rule 6): a worker that serves nothing acked
    // every peer write for its first IDLE_LEASE_MS + 2 leases, up to half its CPU in a bench's
    // first 15 s (--cpu-prof, 2026-12-02), and each of those writes waited for its ack.
  }

  private startBeating(): void {
    if (!this.serving || this.closed || this.beatTimer) return;
    this.presence.announceCacheIdle(false); // rule 8: serves two presence intervals after this lands
    this.beatTimer = setInterval(() => this.beat(), Math.max(50, Math.floor(this.leaseMs / 4)));
    this.beatTimer.unref();
    this.beat();
  }

  /**
   * The current stretch of holding every lease, this bus's, the presence's writer lease (rule 4)
   * and the fence's (rule 5), or undefined: what was cached in another stretch may be stale.
   */
  leaseStretch(): number | undefined {
    const now = this.clock.now();
    this.askedAt = now;
    if (!this.beatTimer) this.startBeating(); // rule 6: asked again after idling
    const joined = this.presence.writableStretch();
    const fenced = this.fence.stretch();
    const announced = this.presence.cachingStretch();
    if (joined === undefined || fenced === undefined || announced === undefined || now >= this.leaseUntil) return undefined;
    const last = this.lastStretches;
    if (last[0] !== this.stretch || last[1] !== joined || last[2] !== fenced || last[3] !== announced) {
      // A new stretch of any lease is a new one of them all (each only counts up).
      [last[0], last[1], last[2], last[3]] = [this.stretch, joined, fenced, announced];
      this.combinedStretch++;
    }
    return this.combinedStretch;
  }

  /**
   * The leases leaseStretch() needs that do not hold now, for /status: why a cache serves nothing.
   * "redis": its own heartbeats are not coming back (rule 1); "presence": its writer lease or a
   * join's wait (rule 4); "fence": the epoch's lease (rule 5); "announcement": caching announced,
   * not yet landed (rule 8). None for a coordinator that caches nothing at all.
   */
  leasesMissing(): CacheLease[] {
    const missing: CacheLease[] = [];
    if (!this.serving) return missing;
    if (this.clock.now() >= this.leaseUntil) missing.push("redis");
    if (this.presence.writableStretch() === undefined) missing.push("presence");
    if (this.fence.stretch() === undefined) missing.push("fence");
    if (this.presence.cachingStretch() === undefined) missing.push("announcement");
    return missing;
  }

  /**
   * Tells every peer's cache that a committed change touched these keys and versions; resolves
   * once acknowledging the change is safe, rejects (CatalogueUnavailable) if it never will be
   * (rule 5). Changes made while one message is in flight share the next.
   */
  invalidate(keys: readonly CachedKey[], versionIds: readonly string[]): Promise<void> {
    if (keys.length === 0 && versionIds.length === 0) return Promise.resolve();
    if (this.alone()) return Promise.resolve(); // rule 4: no one else may be serving
    return this.batches.submit({ keys, versionIds });
  }

  /** Clean stop: this cache serves no more, and peers stop waiting for it. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.beatTimer);
    this.leaseUntil = -Infinity;
    if (this.serving) await this.publish({ t: "bye", from: this.id }).catch(() => undefined);
    this.sub.disconnect();
    this.pub.disconnect();
  }

  /** Sends one invalidation for `changes` if anyone may need it; resolves once acknowledging them is safe. */
  private send(changes: Change[]): Promise<void[]> {
    const t0 = this.clock.now();
    if (this.presence.peersIdleAt(t0)) return Promise.resolve(changes.map(() => undefined)); // rule 8
    if (!this.noPeerServingBy(t0)) return this.publishChanges(changes);
    return this.orderedByPing(t0).then(
      (quiet) => (quiet ? changes.map(() => undefined) : this.publishChanges(changes)),
      () => this.publishChanges(changes),
    );
  }

  /**
   * Rule 7: whether no peer can have been serving since `t0` from a lease granted before it: this
   * subscription is past its first lease (rule 3) and no peer's heartbeat was heard at or after
   * `t0 - L - margin` (one heard at `q` was sent before `q`, its lease ended before `q + L`).
   */
  private noPeerServingBy(t0: number): boolean {
    const since = t0 - this.leaseMs - LEASE_MARGIN_MS;
    if (this.sessionHeardFrom === undefined || this.sessionHeardFrom > since) return false;
    for (const at of this.heard.values()) if (at >= since) return false;
    return true;
  }

  /**
   * Rule 7: a PING on the subscribed connection, sent at `t0` after the commit. Its reply comes after
   * every message Redis pushed to this subscription before running it, so once it is back every
   * heartbeat Redis ran before it has been heard; resolves true if none of them was heard since
   * `t0 - L - margin` (in the same session), so the change needs no invalidation.
   */
  private async orderedByPing(t0: number): Promise<boolean> {
    const session = this.session;
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await Promise.race([
        this.sub.ping(),
        new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), PING_TIMEOUT_MS))),
      ]);
      // ["pong", ""]: answered in subscribed mode (a bare PONG is a connection not subscribed yet).
      return Array.isArray(reply) && session === this.session && !this.closed && this.noPeerServingBy(t0);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Publishes one invalidation for `changes`; resolves once it is safe to acknowledge them. */
  private publishChanges(changes: Change[]): Promise<void[]> {
    const seq = ++this.seq;
    const keys = changes.flatMap((c) => c.keys.map((k): [string, string] => [k.bucket, k.key]));
    const message: Message = { t: "inv", from: this.id, seq, keys, versions: changes.flatMap((c) => c.versionIds) };
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const settled = new Promise<void[]>((r, j) => {
      resolve = () => r(changes.map(() => undefined));
      reject = j;
    });
    const w: Waiter = { seq, hardUntil: Infinity, notBefore: Infinity, resolve, reject };
    this.waiters.set(seq, w);
    this.publish(message).then(
      () => this.arm(w, this.clock.now() + this.leaseMs + LEASE_MARGIN_MS),
      (e: unknown) => {
        // Not published (Redis away or slow), or maybe later: fence every cache through MariaDB (rule 5).
        if (this.alone()) return this.settle(w); // rule 4
        this.warnUnpublished(e);
        this.fence.raise().then(
          () => this.arm(w, this.clock.now() + this.fence.leaseMs + LEASE_MARGIN_MS),
          (err: unknown) => {
            clearTimeout(w.timer);
            this.waiters.delete(w.seq);
            w.reject(err);
          },
        );
      },
    );
    return settled;
  }

  private alone(): boolean {
    return this.presence.aloneStretch() !== undefined;
  }

  private lastUnpublishedWarning = -Infinity;

  private warnUnpublished(e: unknown): void {
    const now = this.clock.now();
    if (now - this.lastUnpublishedWarning < 10_000) return;
    this.lastUnpublishedWarning = now;
    this.log.warn({ err: e }, "read-cache bus: invalidations not published (Redis away?); writes raise the fence and wait out its lease");
  }

  /** The PUBLISH returned: from now on, this waiter is bounded by `hardUntil`. */
  private arm(w: Waiter, hardUntil: number): void {
    w.hardUntil = hardUntil;
    this.check(w);
  }

  private check(w: Waiter): void {
    if (!this.waiters.has(w.seq)) return;
    const now = this.clock.now();
    let next = w.hardUntil;
    if (w.peers) {
      for (const [peer, until] of w.peers) if (now >= until) w.peers.delete(peer);
      if (w.peers.size === 0 && now >= w.notBefore) return this.settle(w);
      next = Math.min(next, w.notBefore > now ? w.notBefore : Infinity, ...w.peers.values());
    }
    if (now >= w.hardUntil) {
      if (w.peers?.size) this.log.warn({ peers: [...w.peers.keys()] }, "read-cache bus: no ack from peers; waited out their lease");
      return this.settle(w);
    }
    clearTimeout(w.timer);
    if (next !== Infinity) w.timer = setTimeout(() => this.check(w), Math.max(1, Math.ceil(next - now)));
  }

  private settle(w: Waiter): void {
    clearTimeout(w.timer);
    this.waiters.delete(w.seq);
    w.resolve();
  }

  private receive(payload: Buffer): void {
    let m: Message;
    try {
      m = JSON.parse(payload.toString("utf8")) as Message;
    } catch {
      return;
    }
    const now = this.clock.now();
    this.sessionHeardFrom ??= now;
    switch (m.t) {
      case "hb":
        if (m.from === this.id) this.renewed(m.at, m.session, now);
        else this.heard.set(m.from, now);
        return;
      case "inv":
        if (m.from === this.id) return this.echoed(m.seq, now);
        this.drop(
          m.keys.map(([bucket, key]) => ({ bucket, key })),
          m.versions,
        );
        if (now - this.beatAt > 2 * this.leaseMs) return; // rule 6: no writer waits for this one
        this.acks.set(m.from, m.seq);
        if (!this.acksScheduled) {
          this.acksScheduled = true;
          setImmediate(() => this.sendAcks());
        }
        return;
      case "ack": {
        const upTo = m.upTo[this.id];
        if (upTo === undefined) return;
        for (const w of this.waiters.values()) {
          if (w.seq > upTo || !w.peers?.delete(m.from)) continue;
          this.check(w);
        }
        return;
      }
      case "bye":
        if (m.from === this.id) return;
        this.heard.delete(m.from);
        for (const w of this.waiters.values()) if (w.peers?.delete(m.from)) this.check(w);
        return;
    }
  }

  /** Own invalidation back: every heartbeat Redis ran before it has been heard (rule 2). */
  private echoed(seq: number, now: number): void {
    const w = this.waiters.get(seq);
    if (!w) return;
    const peers = new Map<string, number>();
    for (const [peer, at] of this.heard) {
      const until = at + this.leaseMs + LEASE_MARGIN_MS;
      if (until > now) peers.set(peer, until);
      else this.heard.delete(peer);
    }
    w.peers = peers;
    // Rule 3: a peer whose heartbeats all came before this subscription may hold a lease until then.
    w.notBefore = this.sessionHeardFrom! + this.leaseMs + LEASE_MARGIN_MS;
    this.check(w);
  }

  private renewed(at: number, session: number, now: number): void {
    if (session !== this.session || this.closed) return; // sent on a connection since closed
    const until = at + this.leaseMs;
    if (until <= now) return;
    if (now >= this.leaseUntil) this.stretch++; // a new stretch: what was cached before may be stale
    this.leaseUntil = Math.max(this.leaseUntil, until);
  }

  private beat(): void {
    if (this.closed) return;
    const now = this.clock.now();
    if (now - this.askedAt > this.idleLeaseMs) {
      // Rule 6: nobody asks; the lease lapses by itself. Rule 8: it serves nothing from now on, and says so.
      clearInterval(this.beatTimer);
      this.beatTimer = undefined;
      this.presence.announceCacheIdle(true);
      return;
    }
    this.beatAt = now;
    const m: Message = { t: "hb", from: this.id, at: now, session: this.session };
    this.publish(m).catch(() => undefined); // no renewal: the lease lapses by itself
  }

  private sendAcks(): void {
    this.acksScheduled = false;
    const upTo = Object.fromEntries(this.acks);
    this.acks = new Map();
    this.publish({ t: "ack", from: this.id, upTo }).catch((e: unknown) => this.log.warn({ err: e }, "read-cache bus: ack not published"));
  }

  private async publish(m: Message): Promise<void> {
    await this.pub.publish(this.channel, JSON.stringify(m));
  }
}
