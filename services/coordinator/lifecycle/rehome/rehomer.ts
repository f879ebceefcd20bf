import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../../common/logger";
import { Semaphore } from "../../../common/semaphore";
import type { PlacedVersion, RehomeQueries } from "../../catalogue/rehome-queries";
import type { Placement } from "../../placement/placement";
import { awayFromHome, rehomePlan } from "../../placement/rehome-plan";
import type { RehomeOutcome } from "../jobs/rehome";
import { shareOf, type Peers } from "../peer-share";

/** Rows per catalogue page (a primary-key range read each). */
const PAGE = 500;
/** Moves one coordinator runs at once; the repair throttle holds the bytes. */
const CONCURRENCY = 4;
/** After a pass that moved something, the next starts this soon (the moves may have freed others). */
const AGAIN_MS = 1000;
/** After a pass in which moves failed (a target went away mid-copy), the next starts this soon. */
const RETRY_MS = 5000;
/**
 * Without a node coming or going, a pass this often at most (a write that fell over makes a hint
 * silently, and /status counts from the last pass); less often for a big catalogue (below).
 */
const IDLE_PASS_MS = 5000;
/** ...and never more often than this many times its own duration, so a big catalogue is not walked back to back. */
const PASS_COST_FACTOR = 10;

/** What one pass found: versions walked, away from home, under R copies, and what this coordinator moved. */
export interface PassCounts {
  versions: number;
  awayFromHome: number;
  awayBytes: number;
  underReplicated: number;
  moved: number;
  movedBytes: number;
  failed: number;
}

const ZERO: PassCounts = { versions: 0, awayFromHome: 0, awayBytes: 0, underReplicated: 0, moved: 0, movedBytes: 0, failed: 0 };

export interface RehomeView {
  /** The last whole pass (null before the first): its counts, when it ended (epoch ms) and how long it took. */
  lastPass: (PassCounts & { endedAtMs: number; durationMs: number }) | null;
  /** The pass under way, so far. */
  pass: PassCounts | null;
  passes: number;
  /** What this coordinator moved since start-up. */
  moved: { versions: number; bytes: number };
}

export interface RehomerDeps {
  readonly queries: Pick<RehomeQueries, "hotPage">;
  readonly placement: Pick<Placement, "homes" | "replicas">;
  readonly isLive: (nodeId: string) => boolean;
  readonly peers: Peers;
  /** Moves one version home (jobs/rehome.ts). */
  move(versionId: string, signal: AbortSignal): Promise<RehomeOutcome>;
  /** "change" when a node comes, goes or changes liveness: a pass starts at once. */
  readonly directory: { on(event: "change", listener: () => void): unknown; off(event: "change", listener: () => void): unknown };
  readonly log: Logger;
}

/**
 * The rehome pass (issue 13 items 3 and 5): walks every live hot version and compares where its
 * copies are with where the ring puts its key. A version away from home whose home nodes are live
 * is moved there (jobs/rehome.ts: copy, verify, conditional commit, then delete the stray), paced by
 * MINIS3_REPAIR_RATE. So hints written while a node was down go back to it when it returns, and a
 * node added to the ring receives the keys it now owns; only those move (the ring moves about 1/N
 * of the keys to an N-th node and nothing else).
 *
 * Every coordinator walks; each moves only its share of the versions (a hash of the version id
 * over the live coordinators, peer-share.ts), and a version two take at once still moves once (the
 * conditional commit). Each counts every version it walks, so any coordinator's /status shows the
 * whole cluster's versions away from home and under R as of its last pass.
 */
export class Rehomer {
  private readonly stopping = new AbortController();
  private running?: Promise<void>;
  private wake?: () => void;
  private woken = false;
  private current: PassCounts | null = null;
  private last: RehomeView["lastPass"] = null;
  private passes = 0;
  private readonly total = { versions: 0, bytes: 0 };
  private readonly onChange = () => this.poke();

  constructor(private readonly deps: RehomerDeps) {}

  start(): void {
    this.deps.directory.on("change", this.onChange);
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.deps.directory.off("change", this.onChange);
    this.stopping.abort();
    this.wake?.();
    await this.running;
  }

  status(): RehomeView {
    return { lastPass: this.last, pass: this.current ? { ...this.current } : null, passes: this.passes, moved: { ...this.total } };
  }

  /** Nodes changed: a pass starts now (or right after the one under way). */
  poke(): void {
    this.woken = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      this.woken = false;
      const started = performance.now();
      let pauseMs = IDLE_PASS_MS;
      try {
        const c = await this.pass(signal);
        const durationMs = performance.now() - started;
        this.last = { ...c, endedAtMs: Date.now(), durationMs: Math.round(durationMs) };
        this.passes++;
        const paced = PASS_COST_FACTOR * durationMs;
        pauseMs = c.moved > 0 ? AGAIN_MS : c.failed > 0 ? Math.max(RETRY_MS, paced) : Math.max(IDLE_PASS_MS, paced);
      } catch (e) {
        if (signal.aborted) break;
        this.deps.log.warn({ err: e }, "rehome pass failed; trying again");
        pauseMs = 5000;
      } finally {
        this.current = null;
      }
      if (!this.woken) await this.pause(pauseMs, signal);
    }
  }

  private async pause(ms: number, signal: AbortSignal): Promise<void> {
    const woken = new Promise<void>((resolve) => (this.wake = resolve));
    await Promise.race([sleep(ms, undefined, { signal }).catch(() => undefined), woken]);
    this.wake = undefined;
  }

  private async pass(signal: AbortSignal): Promise<PassCounts> {
    const c = (this.current = { ...ZERO });
    const mine = shareOf(this.deps.peers);
    const slots = new Semaphore(CONCURRENCY);
    const moving = new Set<Promise<void>>();
    let after = "";
    while (!signal.aborted) {
      const page = await this.deps.queries.hotPage(after, PAGE);
      for (const v of page) {
        if (signal.aborted) break;
        if (!this.look(v, c) || !mine(v.versionId)) continue;
        await slots.acquire();
        const p = this.move(v, c, signal).finally(() => {
          slots.release();
          moving.delete(p);
        });
        moving.add(p);
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1].versionId;
    }
    await Promise.all(moving);
    return c;
  }

  /** Counts the version; true if it is away from home and can be moved there now. */
  private look(v: PlacedVersion, c: PassCounts): boolean {
    const r = this.deps.placement.replicas;
    const { home, live } = this.deps.placement.homes(v.bucket, v.key);
    c.versions++;
    if (v.replicas.length < r) c.underReplicated++;
    if (!awayFromHome(v.replicas, home)) return false;
    c.awayFromHome++;
    c.awayBytes += v.size;
    return rehomePlan(v.replicas, live, r, this.deps.isLive) !== null;
  }

  private async move(v: PlacedVersion, c: PassCounts, signal: AbortSignal): Promise<void> {
    try {
      const out = await this.deps.move(v.versionId, signal);
      if (!out.moved) return;
      c.moved++;
      c.movedBytes += out.bytes;
      this.total.versions++;
      this.total.bytes += out.bytes;
    } catch (e) {
      if (signal.aborted) return;
      c.failed++;
      this.deps.log.debug({ version: v.versionId, err: e }, "rehome failed; the next pass tries again");
    }
  }
}
