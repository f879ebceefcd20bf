import { ErrorCode, hasCode, MiniS3Error } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { NodeKind, NodeRecord } from "../../membership/node-record";
import type { NodeDirectory } from "./node-directory";
import { NodeClient, type NodeClientOptions } from "../../rpc/client/node-client";
import { isSecretRefusal } from "../../rpc/cluster-secret";

/**
 * A suspected node is probed this long after the failure, and again this long after each failed
 * probe while its heartbeat row is fresh: a killed node's row stays fresh for MINIS3_NODE_DOWN_AFTER,
 * and its restart (3-5.5 s on the loaded 2-core VM) usually comes within that, so the node is seen
 * within 250 ms of listening again, before its first heartbeat. A probe of a closed port is one
 * refused connect. A node silent in MariaDB too is probed at twice the last wait, up to MAX (its
 * restart, seen in its row, triggers a probe at once anyway).
 */
const FIRST_PROBE_MS = 250;
const MAX_PROBE_MS = 5_000;
/** A probe's own deadline: a node that answers at all answers GetInfo in milliseconds. */
const PROBE_DEADLINE_MS = 2_000;
/**
 * How long a request short of reachable nodes (below the write quorum, or no replica of what it
 * reads) waits for one to return before it fails. A storage node SIGKILLed and restarted by its
 * supervisor is back in 3-7 s on the loaded 2-core VM (3 s of that is loading modules), so with a
 * node killed every 5 s two were sometimes down at once for up to ~2 s: 7.6 % of requests failed.
 */
const RETURN_WAIT_MS = 5_000;
/** A node that refuses our cluster secret is logged again after this long (every call fails meanwhile). */
const SECRET_LOG_EVERY_MS = 10_000;

/**
 * One NodeClient (one channel, one multiplexed Exchange stream) per node, kept in step with the
 * node directory: a node that changes address gets a new client, a removed one is closed.
 */
export class NodePool {
  private readonly clients = new Map<string, NodeClient>();
  /** The next probe of each suspected node. */
  private readonly probes = new Map<string, NodeJS.Timeout>();
  /** When each node's refusal of our cluster secret was last logged (performance.now()). */
  private readonly secretLoggedAt = new Map<string, number>();
  /** Callers of untilReturn(), woken by the next node that becomes live. */
  private readonly returnWaiters = new Set<(returned: boolean) => void>();
  /** Nodes that became live again so far (a count): an attempt that saw one return may go again at once. */
  private returns = 0;

  constructor(
    private readonly directory: NodeDirectory,
    private readonly log: Logger,
    /** Deadlines of every client (tests shorten them). */
    private readonly clientOptions: NodeClientOptions = {},
  ) {
    directory.on("change", (records: NodeRecord[]) => this.sync(records));
    directory.on("returned", (ids: string[]) => {
      this.returns++;
      this.redialIfWaiting(ids);
      for (const wake of [...this.returnWaiters]) wake(true);
    });
    directory.on("revived", (ids: string[]) => this.probeNow(ids));
    this.sync(directory.all());
  }

  /** The client for a node, whether or not it is live (the call itself will tell). */
  client(id: string): NodeClient {
    const c = this.clients.get(id);
    if (!c) throw new MiniS3Error(ErrorCode.NodeUnavailable, `node ${id} is not registered`);
    return c;
  }

  isLive(id: string): boolean {
    return this.directory.isLive(id);
  }

  /** Retired for good: whatever it held counts as gone. */
  isRemoved(id: string): boolean {
    return this.directory.isRemoved(id);
  }

  /** Being removed: its copies are still good sources, but do not count towards R (repair). */
  isDraining(id: string): boolean {
    return this.directory.isDraining(id);
  }

  /**
   * A call to the node failed: the one place that decides whether to stop routing to it.
   * NodeUnavailable does (the transport could not reach it), and WrongNode (another node answers at
   * its address: not this node, until the directory has its new address); an error the node
   * answered with (its MariaDB down, a bad checksum, not found) says it is up. A suspected node stays out of routing
   * until a probe (GetInfo, short deadline, with backoff) reaches it: its heartbeats in MariaDB do
   * not say that this coordinator can reach it.
   */
  failed(id: string, e: unknown): void {
    if (isSecretRefusal(e)) return this.refusedOurSecret(id, e);
    if (unreachable(e) && this.directory.suspect(id)) this.probeLater(id, FIRST_PROBE_MS);
  }

  /**
   * The node is up and refused us for the cluster secret: a configuration error, logged loudly (at
   * most once per node every SECRET_LOG_EVERY_MS), never a reason to suspect it or repair its copies.
   */
  private refusedOurSecret(id: string, e: unknown): void {
    const now = performance.now();
    const last = this.secretLoggedAt.get(id);
    if (last !== undefined && now - last < SECRET_LOG_EVERY_MS) return;
    this.secretLoggedAt.set(id, now);
    this.log.error(
      { node: id, err: e },
      "CONFIGURATION ERROR: node refuses this coordinator's calls (MINIS3_CLUSTER_SECRET missing or different): every call to it fails until the secrets match",
    );
  }

  private probeLater(id: string, afterMs: number): void {
    this.cancelProbe(id);
    const timer = setTimeout(() => {
      this.probes.delete(id);
      void this.probe(id, afterMs);
    }, afterMs);
    timer.unref();
    this.probes.set(id, timer);
  }

  private cancelProbe(id: string): void {
    clearTimeout(this.probes.get(id));
    this.probes.delete(id);
  }

  /**
   * Suspected nodes whose heartbeat row says they run again (restarted, or heartbeating after a
   * silence): probed now on a fresh channel, not at the next backoff step.
   */
  private probeNow(ids: readonly string[]): void {
    for (const id of ids) {
      if (!this.clients.has(id) || !this.directory.isSuspected(id)) continue;
      this.cancelProbe(id);
      this.redial(id);
      void this.probe(id, FIRST_PROBE_MS);
    }
  }

  private async probe(id: string, lastWaitMs: number): Promise<void> {
    let c = this.clients.get(id);
    if (!c || !this.directory.isSuspected(id)) return;
    // A channel waiting out grpc-js's reconnect backoff fails the probe without dialling at all.
    if (c.inBackoff()) c = this.redial(id);
    try {
      await c.info(PROBE_DEADLINE_MS);
    } catch (e) {
      // Closed or replaced meanwhile: that client's probes end (a moved node starts afresh).
      if (this.clients.get(id) !== c) return;
      if (unreachable(e)) {
        const next = this.directory.heartbeating(id) ? FIRST_PROBE_MS : Math.min(2 * lastWaitMs, MAX_PROBE_MS);
        return this.probeLater(id, next);
      }
      // It answered, with an error of its own: it is reachable.
    }
    if (this.clients.get(id) === c) this.directory.trust(id);
  }

  /** The deadline (performance.now()) for a request starting now that may wait for nodes to return. */
  returnDeadline(): number {
    return performance.now() + RETURN_WAIT_MS;
  }

  /**
   * Resolves true when a node becomes live again (back from a restart, or reached by a probe), or
   * false at `deadline` (performance.now(); at once if past): a request short of reachable nodes
   * waits for one instead of failing at once.
   */
  untilReturn(deadline: number): Promise<boolean> {
    const ms = deadline - performance.now();
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (returned: boolean) => {
        clearTimeout(timer);
        this.returnWaiters.delete(done);
        resolve(returned);
      };
      const timer = setTimeout(() => done(false), ms);
      this.returnWaiters.add(done);
    });
  }

  /**
   * Runs `attempt` (told how many times it ran before), and again each time a node returns, while it
   * fails with an error `retry` accepts (for want of reachable nodes) and `deadline` (performance.now();
   * by default RETURN_WAIT_MS from now) has not passed.
   */
  async asNodesReturn<T>(
    attempt: (tried: number) => Promise<T>,
    retry: (e: unknown) => boolean,
    deadline = this.returnDeadline(),
  ): Promise<T> {
    for (let tried = 0; ; tried++) {
      const returnsBefore = this.returns;
      try {
        return await attempt(tried);
      } catch (e) {
        if (!retry(e)) throw e;
        // A node that returned while the attempt ran is not waited for again (seen: a write failed
        // at its 5 s limit, having waited for the next return after missing the one 0.2 s earlier).
        const returnedMeanwhile = this.returns !== returnsBefore && performance.now() < deadline;
        if (!returnedMeanwhile && !(await this.untilReturn(deadline))) throw e;
      }
    }
  }

  /** A live node of a kind (the first by id), for the single backup and delete tiers. */
  liveOfKind(kind: NodeKind): NodeClient {
    const n = this.directory.ofKind(kind).find((r) => this.directory.isLive(r.id));
    if (!n) throw new MiniS3Error(ErrorCode.NotEnoughNodes, `no live ${kind} node`);
    return this.client(n.id);
  }

  close(): void {
    for (const wake of [...this.returnWaiters]) wake(false);
    for (const t of this.probes.values()) clearTimeout(t);
    this.probes.clear();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /**
   * A node back from an outage whose channel is still waiting out a failed dial would fail every
   * call for up to the backoff (seen: an upload right after two nodes restarted got 503 "No
   * connection established" from both): a fresh channel dials at once.
   */
  private redialIfWaiting(ids: readonly string[]): void {
    for (const id of ids) {
      if (!this.clients.get(id)?.inBackoff()) continue;
      this.redial(id);
      this.log.info({ node: id }, "node back; dialling it afresh");
    }
  }

  /** Replaces a node's client with a fresh one (a new channel dials at once). */
  private redial(id: string): NodeClient {
    const old = this.clients.get(id)!;
    old.close();
    const c = new NodeClient(id, old.address, this.clientOptions);
    this.clients.set(id, c);
    return c;
  }

  private sync(records: readonly NodeRecord[]): void {
    const seen = new Set<string>();
    for (const r of records) {
      seen.add(r.id);
      const c = this.clients.get(r.id);
      if (c && c.address === r.address) continue;
      c?.close();
      this.clients.set(r.id, new NodeClient(r.id, r.address, this.clientOptions));
      if (c) {
        this.log.info({ node: r.id, address: r.address }, "node moved; reconnecting");
        this.cancelProbe(r.id);
        this.directory.trust(r.id); // a new address gets a fresh chance
      }
    }
    for (const [id, c] of this.clients) {
      if (!seen.has(id)) {
        c.close();
        this.clients.delete(id);
        this.cancelProbe(id);
      }
    }
  }
}

/** Failed for want of a reachable node holding the bytes, not for what a node answered: worth waiting on asNodesReturn for. */
export function bytesOutOfReach(e: unknown): boolean {
  return hasCode(e, ErrorCode.NodeUnavailable) || hasCode(e, ErrorCode.BytesUnreachable);
}

/** The node asked for could not be reached: the transport failed, or another node answers at its address. */
function unreachable(e: unknown): boolean {
  return hasCode(e, ErrorCode.NodeUnavailable) || hasCode(e, ErrorCode.WrongNode);
}
