import { EventEmitter } from "node:events";
import type { Pool, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { ErrorCode, InvalidArgumentError, MiniS3Error } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { NodeKind, NodeRecord } from "../../membership/node-record";

/**
 * A node as members see it: `up`; `down` (silent for MINIS3_NODE_DOWN_AFTER, or stopped cleanly);
 * `suspected` (heartbeats, but this coordinator's calls could not reach it); `draining` (being
 * removed: out of placement, its copies being made elsewhere); `removed` (gone for good).
 */
export type MemberState = "up" | "down" | "suspected" | "draining" | "removed";

/**
 * A coordinator's view of the nodes, refreshed from the catalogue every interval. Emits "change"
 * when the set of live nodes (or an address) changes.
 *
 * A node is live when it heartbeats AND this coordinator can reach it. Heartbeats say the first
 * (`heartbeating`); calls say the second: a node a call could not reach stays suspected, across
 * refreshes, until the node pool's probe reaches it again (`trust`). Suspicion used to end at the
 * next refresh, ~1 s later, so a node cut off from coordinators but not from MariaDB was live
 * nearly all the time and cost every request sent to it a deadline (review, finding 9).
 *
 * Emits "revived" with the suspected nodes whose row says they run again: a new start time, or
 * heartbeats after a silence. The pool probes those at once instead of at its next backoff step:
 * storage nodes killed every 5 s were seen again 1.7-8 s after they had restarted (probes at
 * 0.25 s doubling), so the next kill often left one of three nodes reachable and writes failed.
 */
export class NodeDirectory extends EventEmitter {
  private records: NodeRecord[] = [];
  /** What the heartbeat rows say, whatever this coordinator saw. */
  private readonly heartbeats = new Map<string, boolean>();
  /** Nodes a call could not reach, until a probe does. */
  private readonly suspected = new Set<string>();
  /** Each node's start time as its row last said (a new one: the process restarted). */
  private readonly startedAt = new Map<string, number>();
  private signature = "";
  /** Nodes live at the last emit: a node live now and not then has returned. */
  private liveAtEmit = new Set<string>();
  /** Whether the last refresh failed (MariaDB away, or out of this coordinator's reach). */
  private unread = false;
  /** Nodes heartbeating before refreshes failed, and when (monotonic) one succeeded again: see refresh(). */
  private graced = new Set<string>();
  private readAgainAt = -Infinity;
  /** When the last refresh that read the rows was sent (monotonic): NodeOutages counts no further. */
  private readSentAt = -Infinity;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly pool: Pool,
    private readonly intervalMs: number,
    private readonly downAfterMs: number,
    private readonly log: Logger,
  ) {
    super();
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((e) => this.log.warn({ err: e }, "node directory refresh failed"));
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  all(): readonly NodeRecord[] {
    return this.records;
  }

  ofKind(kind: NodeKind): NodeRecord[] {
    return this.records.filter((n) => n.kind === kind && n.state !== "removed");
  }

  /** Nodes of a kind that take new copies: members that are not being removed (draining). */
  placeable(kind: NodeKind): NodeRecord[] {
    return this.ofKind(kind).filter((n) => n.state !== "draining");
  }

  /** What /status shows for a node. */
  memberState(n: NodeRecord): MemberState {
    if (n.state === "removed" || n.state === "draining") return n.state;
    if (!this.heartbeating(n.id)) return "down";
    return this.suspected.has(n.id) ? "suspected" : "up";
  }

  get(id: string): NodeRecord | undefined {
    return this.records.find((n) => n.id === id);
  }

  isLive(id: string): boolean {
    return this.get(id)?.live ?? false;
  }

  /** Retired by an operator (retire): its copies count as gone. */
  isRemoved(id: string): boolean {
    return this.get(id)?.state === "removed";
  }

  /** Being removed: its copies are made elsewhere, then it is removed (NodeRemoval). */
  isDraining(id: string): boolean {
    return this.get(id)?.state === "draining";
  }

  /** The node, fresh from the catalogue if this coordinator has not seen it yet; NoSuchNode otherwise. */
  async find(id: string): Promise<NodeRecord> {
    if (!this.get(id)) await this.refresh();
    const n = this.get(id);
    if (!n) throw new MiniS3Error(ErrorCode.NoSuchNode, `no node ${id} is registered`);
    return n;
  }

  /**
   * Starts removing a storage node: state 'draining', so it leaves placement at once (a new write
   * goes elsewhere; reads may still use it), and repair makes its copies elsewhere. Refused when
   * fewer than `replicas` storage nodes would stay. A node already draining or removed is left as
   * it is (a repeated request).
   */
  async drain(id: string, replicas: number): Promise<NodeRecord> {
    const n = await this.find(id);
    if (n.state === "draining" || n.state === "removed") return n;
    if (n.kind !== "storage") {
      throw new MiniS3Error(
        ErrorCode.Conflict,
        `node ${id} is a ${n.kind} node: only storage nodes are drained; stop it, then retire it (POST /nodes/retire)`,
      );
    }
    const staying = this.placeable("storage").filter((m) => m.id !== id).length;
    if (staying < replicas) {
      throw new MiniS3Error(
        ErrorCode.Conflict,
        `removing ${id} would leave ${staying} storage node(s), fewer than MINIS3_REPLICAS=${replicas}: add a node first`,
      );
    }
    await this.pool.execute("UPDATE nodes SET state = 'draining' WHERE id = ? AND state <> 'removed'", [id]);
    await this.refresh();
    this.log.warn({ node: id }, "node draining: its copies are being made elsewhere before it is removed");
    return this.get(id)!;
  }

  /** The end of a drain: nothing depends on the node any more. Only a node still draining. */
  async finishDrain(id: string): Promise<void> {
    const [r] = await this.pool.execute<ResultSetHeader>("UPDATE nodes SET state = 'removed' WHERE id = ? AND state = 'draining'", [id]);
    if (r.affectedRows) this.log.warn({ node: id }, "node drained and removed for good: it may be stopped");
    await this.refresh();
  }

  /**
   * Retires a node for good (state 'removed'): it leaves placement, its copies count as gone (repair
   * replaces them, cleanup and purge stop waiting for it). Refused for a node that is live, by this
   * coordinator's view or its heartbeat: only a node already down can be written off. A node that
   * starts again later comes back as a new, empty member (its old copies are orphans).
   */
  async retire(id: string): Promise<NodeRecord> {
    const n = await this.find(id);
    if (n.live) throw new InvalidArgumentError(`node ${id} is live: stop it before retiring it`);
    await this.pool.execute(
      `UPDATE nodes SET state = 'removed'
        WHERE id = ? AND (state IN ('stopped', 'removed') OR TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(3)) / 1000 >= ?)`,
      [id, this.downAfterMs],
    );
    await this.refresh();
    const after = this.get(id)!;
    if (after.state !== "removed") throw new InvalidArgumentError(`node ${id} heartbeats again: stop it before retiring it`);
    this.log.warn({ node: id }, "node retired for good");
    return after;
  }

  /** When (performance.now()) the rows last read were asked for. */
  readAt(): number {
    return this.readSentAt;
  }

  /** Whether the node's heartbeat is recent, reachable from here or not (what repair's "lost" rests on). */
  heartbeating(id: string): boolean {
    return this.heartbeats.get(id) ?? false;
  }

  isSuspected(id: string): boolean {
    return this.suspected.has(id);
  }

  /**
   * Marks a node down until trust(id) (a call to it could not reach it). Returns false if it was
   * suspected already, or is not registered.
   */
  suspect(id: string): boolean {
    const n = this.get(id);
    if (!n || this.suspected.has(id)) return false;
    this.suspected.add(id);
    if (n.live) {
      n.live = false;
      this.log.warn({ node: id }, "node unreachable from this coordinator; routing around it until a probe reaches it");
      this.emitIfChanged();
    }
    return true;
  }

  /** Ends a suspicion (a probe reached the node): live again if it heartbeats. */
  trust(id: string): void {
    if (!this.suspected.delete(id)) return;
    const n = this.get(id);
    if (n && this.heartbeating(id)) {
      n.live = true;
      this.log.info({ node: id }, "node reachable again");
      this.emitIfChanged();
    }
  }

  /**
   * Reads the nodes table. A node's silence is not counted while this coordinator could not read
   * it: no node can heartbeat into a MariaDB that is away, so once refreshes fail and one succeeds
   * again, a node that heartbeated before has MINIS3_NODE_DOWN_AFTER from then to beat again.
   * Without it, after MariaDB was down longer than that, the first refresh found every node silent
   * and /readyz answered 503 (writeQuorum, 0 live storage nodes) for ~1 s, until their heartbeats
   * landed and the next refresh (5 restarts of 6, interval 1 s); writes meanwhile went to spares.
   * A node that died meanwhile is seen down that much later, as any node is seen down late.
   */
  async refresh(): Promise<void> {
    let rows: RowDataPacket[];
    const sentAt = performance.now();
    try {
      [rows] = await this.pool.query<RowDataPacket[]>(
        `SELECT id, kind, address, zone, metrics_port, state, blob_count, used_bytes, free_bytes,
                UNIX_TIMESTAMP(heartbeat_at) * 1000 AS hb, UNIX_TIMESTAMP(started_at) * 1000 AS started,
                TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(3)) / 1000 AS age_ms
           FROM nodes ORDER BY id`,
      );
    } catch (e) {
      if (!this.unread) this.graced = new Set([...this.heartbeats].filter(([, beats]) => beats).map(([id]) => id));
      this.unread = true;
      throw e;
    }
    const now = performance.now(); // the global one: jest's fake clock moves it in tests
    this.readSentAt = Math.max(this.readSentAt, sentAt);
    if (this.unread) this.readAgainAt = now;
    this.unread = false;
    const inGrace = now - this.readAgainAt < this.downAfterMs;
    const wasHeartbeating = new Map(this.heartbeats);
    this.heartbeats.clear();
    for (const r of rows) {
      const recent = Number(r.age_ms) < this.downAfterMs || (inGrace && this.graced.has(r.id));
      this.heartbeats.set(r.id, r.state !== "removed" && r.state !== "stopped" && recent);
    }
    for (const id of this.suspected) if (!this.heartbeats.has(id)) this.suspected.delete(id);
    const revived: string[] = [];
    for (const r of rows) {
      const started = Number(r.started);
      const before = this.startedAt.get(r.id);
      const restarted = before !== undefined && Number.isFinite(started) && before !== started;
      if (Number.isFinite(started)) this.startedAt.set(r.id, started);
      const resumed = this.heartbeating(r.id) && (restarted || wasHeartbeating.get(r.id) === false);
      if (resumed && this.suspected.has(r.id)) revived.push(r.id);
    }
    this.records = rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      address: r.address,
      zone: r.zone,
      metricsPort: r.metrics_port === null ? null : Number(r.metrics_port),
      state: r.state,
      blobCount: Number(r.blob_count),
      usedBytes: Number(r.used_bytes),
      freeBytes: r.free_bytes === null ? null : Number(r.free_bytes),
      heartbeatAtMs: Math.round(Number(r.hb)),
      silentForMs: Math.max(0, Math.round(Number(r.age_ms))),
      live: this.heartbeating(r.id) && !this.suspected.has(r.id),
    }));
    this.emitIfChanged();
    if (revived.length) this.emit("revived", revived);
  }

  private emitIfChanged(): void {
    // Heartbeats count too: a suspected node that stops heartbeating starts its outage (NodeOutages).
    const sig = this.records.map((n) => `${n.id}@${n.address}:${n.live ? 1 : 0}${this.heartbeating(n.id) ? 1 : 0}:${n.state}`).join(",");
    if (sig !== this.signature) {
      this.signature = sig;
      this.emit("change", this.records);
      const live = new Set(this.records.filter((n) => n.live).map((n) => n.id));
      const returned = [...live].filter((id) => !this.liveAtEmit.has(id));
      this.liveAtEmit = live;
      // "returned": nodes that were not live and are again (heartbeating again, or reached by a probe).
      if (returned.length) this.emit("returned", returned);
    }
  }
}
