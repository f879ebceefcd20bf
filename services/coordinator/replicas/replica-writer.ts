import { AbortedError, ErrorCode, IntegrityError, MiniS3Error } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { RequestId } from "../../common/request-context";
import type { WireCheck } from "../../rpc/blob-backend";
import { ReplayBudget } from "./replay-budget";
import type { BlobUpload, LockHeld } from "../../rpc/client/node-client";
import type { NodePool } from "../cluster/node-pool";

/** Attributes a node keeps with a copy (the backup and trash tiers keep the key beside the bytes). */
export type CopyAttributes = Record<string, string>;

/**
 * Deletes copies of `versionId` this writer made and no commit of its names: a finished upload's
 * stragglers' (`lateCopies`: they committed late, or may have) and those of a write below its
 * quorum (`failedCopies`, awaited before it throws: no caller sees a partial write). The default
 * deletes them at once, right for a blob id no other write uses (an upload's fresh version, a
 * multipart part). A copy of an existing version (a lifecycle copy) may share its node and blob id
 * with a copy another run of the same job, or a repair, has committed: the owner deletes it under
 * the version's row lock (Catalogue.cleanCopies), which spares the nodes the row lists; the engine
 * does so for a straggler once the upload's own commit has settled.
 */
export type DropCopies = (versionId: string, nodeIds: string[], requestId: RequestId) => Promise<unknown>;

/**
 * How long a large upload that has its write quorum still waits for the other replicas at least
 * (replicas on healthy nodes commit within milliseconds of each other; a stuck one never does).
 */
const STRAGGLER_GRACE_MS = 1000;

/**
 * How long a large upload waits for a target's channel to connect before taking the next node:
 * a reachable node connects in milliseconds; one behind a black hole never does.
 */
const CONNECT_WAIT_MS = 2000;

/**
 * A large upload keeps its first bytes, up to this many, so that a replica that fails (a node killed
 * mid-stream) is replaced by a spare node that gets them again; past this much, a failed replica is
 * only dropped. With one storage node of three killed every 5 s, 1 MiB uploads failed below the write
 * quorum (1-3 per 45 s run) though a third node was up. 8 MiB covers an S3 SDK's default part size;
 * the chunks are the upload's own buffers, kept, not copied.
 */
const REPLAY_MAX_BYTES = 8 * 1024 * 1024;

/**
 * What all of a coordinator's large uploads keep for replacements together (replay-budget.ts): three
 * uploads' full share. In the bench's multipart row (eight 8 MiB parts at once) the busy worker rose
 * by 28 MiB (214.6 -> 242.3, 82.4 MB/s up) against 54 and 41 without (212 -> 266, 219 -> 260; 69.6 and
 * 68.2 MB/s), 2026-12-06.
 */
export const REPLAY_BUDGET_BYTES = 3 * REPLAY_MAX_BYTES;

/** Stands in for the upload of a target that was never reached (nothing to send, nothing to abort). */
const NOT_STARTED: BlobUpload = {
  write: async () => undefined,
  finish: () => Promise.reject(new AbortedError("upload not started")),
  abort: () => undefined,
};

const NO_LOCK_NEEDED: LockHeld = async () => undefined;

/** Shared, never written: a hot-path put does not allocate an empty object each time. */
const NO_ATTRIBUTES: CopyAttributes = {};

/**
 * Writes a version's bytes to several nodes with a write quorum, and discards copies. Small bodies
 * go whole and may fall over down a preference list; large ones stream to fixed targets. Below the
 * quorum, the copies made are discarded and the write fails: no caller ever sees a partial write.
 * Each method takes the id of the request it works for last: its node ops and log lines name it.
 */
export class ReplicaWriter {
  /** Shared by every large upload this writer starts. */
  private readonly replayBudget: ReplayBudget;
  private readonly lateCopies: DropCopies;
  private readonly failedCopies: DropCopies;
  /** What proves a fenced delete may be asked again when its caller names no lock (`ownBlobs`). */
  private readonly unlocked: LockHeld | undefined;

  /**
   * `ownBlobs`: the blobs this writer writes are ones no other job writes a copy of (an upload's
   * version before its commit, a multipart part, a compose's result), so a fenced delete of one may be
   * asked again without a lock to prove. A large copy's put is numbered when it commits, after the
   * last position this coordinator's session heard: its own discard of it is fenced once.
   */
  constructor(
    private readonly nodes: NodePool,
    private readonly log: Logger,
    opts: { replayBudget?: ReplayBudget; lateCopies?: DropCopies; failedCopies?: DropCopies; ownBlobs?: boolean } = {},
  ) {
    this.unlocked = opts.ownBlobs ? NO_LOCK_NEEDED : undefined;
    const atOnce = (versionId: string, nodeIds: string[], requestId: RequestId) =>
      discardCopies(nodes, log, versionId, nodeIds, requestId, this.unlocked);
    this.replayBudget = opts.replayBudget ?? new ReplayBudget(REPLAY_BUDGET_BYTES);
    this.lateCopies = opts.lateCopies ?? atOnce;
    this.failedCopies = opts.failedCopies ?? atOnce;
  }

  /**
   * A whole small body to `count` nodes of `candidates`, moving on down the list past nodes that
   * fail (the engine passes the key's live preference list; a caller with fixed targets passes
   * count = candidates.length, so nothing falls over). Returns the nodes that hold it. `check`: the
   * body's sha256 (always) and its crc32 when the engine took one from the bytes it got: the nodes
   * then check the bytes by the crc32 instead of hashing them with sha256 (NodeClient.putSmall). A
   * repair's copy gives only the catalogue's sha256, which its bytes, read from another node, must match.
   */
  async putSmall(
    versionId: string,
    data: Buffer,
    { sha256, crc32 }: { sha256: Buffer; crc32?: number },
    candidates: string[],
    count: number,
    quorum: number,
    attributes: CopyAttributes = NO_ATTRIBUTES,
    requestId?: RequestId,
  ): Promise<string[]> {
    const ok: string[] = [];
    let next = 0;
    let lastError: unknown;
    let refused: IntegrityError | undefined;
    while (ok.length < count && next < candidates.length) {
      const batch = candidates.slice(next, next + count - ok.length);
      next += batch.length;
      const results = await Promise.allSettled(
        batch.map((id) => this.nodes.client(id).putSmall(versionId, attributes, data, sha256, requestId, crc32)),
      );
      results.forEach((r, i) => {
        if (r.status === "fulfilled") ok.push(batch[i]);
        else {
          lastError = writeFailed(this.nodes, this.log, batch[i], versionId, r.reason, requestId);
          if (lastError instanceof IntegrityError) refused = lastError;
        }
      });
    }
    if (ok.length < quorum) {
      if (ok.length) await dropQuietly(this.failedCopies, this.log, versionId, ok, requestId);
      if (refused) throw refused; // the bytes were bad, not the nodes (as a large write says too)
      throw new MiniS3Error(
        ErrorCode.QuorumNotReached,
        `only ${ok.length} replicas took the upload; the write quorum is ${quorum}` +
          (lastError instanceof MiniS3Error ? ` (${lastError.message})` : ""),
      );
    }
    return ok;
  }

  /**
   * A large body streamed to all `targets` at once. A target that cannot be reached before the
   * first byte is replaced by the next live node of `spares` (the engine passes the rest of the
   * key's preference list, live or not; a lifecycle job passes none); so is one that fails within
   * the first REPLAY_MAX_BYTES, which the spare gets again, waiting for a node to return if none is
   * live. Past those, a failed target is only dropped. `check` "blockCrc": finish() is given the
   * fold of the body's block crc32s and the nodes check the bytes by it (NodeClient.writeBlob).
   */
  startLarge(
    versionId: string,
    targets: string[],
    quorum: number,
    attributes: CopyAttributes = NO_ATTRIBUTES,
    spares: readonly string[] = [],
    requestId?: RequestId,
    check: WireCheck = "sha256",
  ): ReplicatedUpload {
    return new ReplicatedUpload(
      this.nodes,
      this.log,
      targets,
      spares,
      versionId,
      quorum,
      attributes,
      requestId,
      check,
      this.replayBudget,
      this.lateCopies,
      this.failedCopies,
    );
  }

  /**
   * Deletes copies, best effort; returns the nodes where the delete failed (for a caller that retries).
   * `stillHeld`: proves the caller's row lock before a fenced delete is asked again (NodeClient.deleteBlob).
   */
  discard(versionId: string, nodeIds: string[], requestId?: RequestId, stillHeld?: LockHeld): Promise<string[]> {
    return discardCopies(this.nodes, this.log, versionId, nodeIds, requestId, stillHeld ?? this.unlocked);
  }
}

/**
 * A large upload streamed to several nodes at once. Each chunk goes to every replica still in the
 * game and the next chunk waits until all of them took it (backpressure from the slowest replica;
 * memory stays at a chunk or two). A replica that fails drops out; below the write quorum the whole
 * upload fails and every replica discards its bytes.
 */
export class ReplicatedUpload {
  private uploads: Replica[] = [];
  private readonly opened: Promise<void>;
  private aborted = false;
  /** Nodes not chosen yet (live or not), in preference order: replacements for a replica that fails. */
  private spares: string[] = [];
  /** The chunks sent so far, while they are at most REPLAY_MAX_BYTES: what a replacement is sent first. */
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  /** Every replica's commit call, once finish() has started them (a straggler's may outlive finish). */
  private commits?: Promise<unknown>;

  constructor(
    private readonly nodes: NodePool,
    private readonly log: Logger,
    targets: string[],
    spares: readonly string[],
    private readonly versionId: string,
    private readonly quorum: number,
    private readonly attributes: CopyAttributes,
    private readonly requestId: RequestId,
    private readonly check: WireCheck,
    private readonly budget: ReplayBudget,
    private readonly lateCopies: DropCopies,
    private readonly failedCopies: DropCopies,
  ) {
    this.opened = this.open(targets, spares);
    this.opened.catch(() => undefined); // surfaced through write()/finish()
  }

  /**
   * Chooses the replicas before any byte is sent: a target whose channel does not connect within
   * CONNECT_WAIT_MS (a node that heartbeats but cannot be reached from here) is suspected and
   * replaced by the next live spare, as small writes fall over. Connected channels cost one state read.
   */
  private async open(targets: string[], spares: readonly string[]): Promise<void> {
    this.spares = [...spares];
    const chosen: string[] = [];
    const unreachable: Replica[] = [];
    let batch = targets;
    while (batch.length) {
      const reached = await Promise.all(batch.map((id) => this.reachable(id)));
      batch.forEach((id, i) => {
        if (reached[i] === true) chosen.push(id);
        else unreachable.push({ id, up: NOT_STARTED, failed: reached[i] });
      });
      batch = this.takeLiveSpares(targets.length - chosen.length);
    }
    // Sent nothing: spares again, should they return before a replica fails.
    this.spares.push(...unreachable.map((u) => u.id));
    // No spare, no replacement ever: the chunks need not be kept for one (their owner may reuse them).
    if (!this.spares.length) this.replay = undefined;
    if (this.aborted) throw new AbortedError("upload aborted");
    this.uploads = [
      ...chosen.map((id) => ({ id, up: this.nodes.client(id).writeBlob(this.versionId, this.attributes, this.requestId, this.check) })),
      ...unreachable,
    ];
    this.checkQuorum();
  }

  /**
   * Up to `count` spares the directory holds live, taken off the list in preference order. The
   * others stay: a node down now may be back before a replica fails.
   */
  private takeLiveSpares(count: number): string[] {
    const taken: string[] = [];
    for (let i = 0; i < this.spares.length && taken.length < count;) {
      if (this.nodes.isLive(this.spares[i])) taken.push(...this.spares.splice(i, 1));
      else i++;
    }
    return taken;
  }

  /**
   * A replica failed: the next reachable live spare takes its place and is sent the chunks so far,
   * if they are still kept. With none live (one node restarting as another is killed), it waits for
   * a spare to return, as a small write does (NodePool.asNodesReturn). Undefined when none did in
   * time, or the chunks are not kept.
   */
  private async replacement(): Promise<Replica | undefined> {
    const none = new Error("no spare node live");
    try {
      return await this.nodes.asNodesReturn(
        async () => (await this.liveReplacement()) ?? Promise.reject(none),
        (e) => e === none && this.replay !== undefined && !this.aborted && this.spares.length > 0,
      );
    } catch {
      return undefined;
    }
  }

  /** One pass over the spares live now: the first that is reached and takes the chunks kept. */
  private async liveReplacement(): Promise<Replica | undefined> {
    const unreached: string[] = [];
    try {
      for (let id = this.takeLiveSpares(1)[0]; id !== undefined && this.replay && !this.aborted; id = this.takeLiveSpares(1)[0]) {
        if ((await this.reachable(id)) !== true) {
          unreached.push(id); // it sent no byte there: a spare again once it returns
          continue;
        }
        if (!this.replay || this.aborted) return undefined;
        const r: Replica = { id, up: this.nodes.client(id).writeBlob(this.versionId, this.attributes, this.requestId, this.check) };
        this.uploads.push(r);
        try {
          for (const chunk of this.replay) await r.up.write(chunk);
          this.log.info(
            { node: id, version: this.versionId, bytes: this.replayBytes, requestId: this.requestId },
            "replica replaced: the upload goes on on a spare node",
          );
          return r;
        } catch (e) {
          this.fail(r, e);
        }
      }
      return undefined;
    } finally {
      this.spares.push(...unreached);
    }
  }

  /** True, or the failure that made the node suspected. */
  private async reachable(id: string): Promise<true | unknown> {
    try {
      if (await this.nodes.client(id).connected(CONNECT_WAIT_MS)) return true;
      throw new MiniS3Error(ErrorCode.NodeUnavailable, `node ${id} could not be connected to within ${CONNECT_WAIT_MS} ms`);
    } catch (e) {
      return writeFailed(this.nodes, this.log, id, this.versionId, e, this.requestId);
    }
  }

  private live() {
    return this.uploads.filter((u) => u.failed === undefined);
  }

  /**
   * Sends the chunk to every live replica; resolves once it has left this process for each. True if
   * the caller may then refill it: false while it is kept for a replacement (the first REPLAY_MAX_BYTES).
   */
  async write(chunk: Buffer): Promise<boolean> {
    await this.opened;
    // Over the coordinator's budget, this upload keeps nothing more and lets go of what it kept.
    if (this.replay && !this.budget.take(chunk.length)) this.dropReplay();
    const kept = this.replay !== undefined;
    if (this.replay) {
      this.replay.push(chunk);
      this.replayBytes += chunk.length;
      if (this.replayBytes > REPLAY_MAX_BYTES) this.dropReplay();
    }
    // A replacement is sent every chunk kept, this one included.
    await Promise.all(
      this.live().map((u) =>
        u.up.write(chunk).catch(async (e) => {
          this.fail(u, e);
          await this.replacement();
        }),
      ),
    );
    this.checkQuorum();
    return !kept;
  }

  /** Commits replica `u`; if it fails, a replacement in its place. Resolves with the nodes tried and the one that committed. */
  private async commit(
    u: Replica,
    size: number,
    sha256: Buffer,
    blockCrc: number | undefined,
    tried: string[] = [],
  ): Promise<{ committed?: string; tried: string[] }> {
    tried.push(u.id);
    try {
      await u.up.finish(size, sha256, blockCrc);
      return { committed: u.id, tried };
    } catch (e) {
      this.fail(u, e);
      const r = await this.replacement();
      return r ? this.commit(r, size, sha256, blockCrc, tried) : { tried };
    }
  }

  /**
   * Sends size and sha256 (and the block crc32s' fold of a "blockCrc" upload); returns the nodes that made the blob durable (at least the quorum).
   * Once the quorum has committed, the others get as long again (at least STRAGGLER_GRACE_MS) and
   * no more: a replica stuck in its commit must not hold an upload that is safe (correctness review,
   * finding 8). A straggler's copy is left out of the answer and deleted once its call settles, so
   * no unlisted copy stays behind (the version is short of R and the caller has it repaired).
   */
  async finish(size: number, sha256: Buffer, blockCrc?: number): Promise<string[]> {
    await this.opened;
    const ok: string[] = [];
    const live = this.live();
    const started = performance.now();
    let settled = 0;
    let quorumAt: number | undefined;
    let quorumOrAll!: () => void;
    const enough = new Promise<void>((resolve) => (quorumOrAll = resolve));
    const done = live.map(() => false);
    const calls = live.map((u, i) =>
      this.commit(u, size, sha256, blockCrc).then((outcome) => {
        done[i] = true;
        if (outcome.committed !== undefined) ok.push(outcome.committed);
        if (ok.length === this.quorum && quorumAt === undefined) quorumAt = performance.now();
        if (++settled === live.length || ok.length >= this.quorum) quorumOrAll();
        return outcome;
      }),
    );
    // Once every commit settled no replacement can come: what was kept is let go.
    this.commits = Promise.allSettled(calls).then(() => this.dropReplay());
    await enough;
    if (quorumAt !== undefined && settled < live.length) {
      const graceMs = Math.max(STRAGGLER_GRACE_MS, quorumAt - started);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(calls), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    const listed = [...ok];
    if (listed.length < this.quorum) {
      if (listed.length) await dropQuietly(this.failedCopies, this.log, this.versionId, listed, this.requestId);
      this.checkQuorum(true);
    }
    live.forEach((u, i) => {
      if (done[i]) return;
      this.log.warn(
        { node: u.id, version: this.versionId, requestId: this.requestId },
        "replica had not committed when the write quorum had; its copy will be deleted",
      );
      // Deleted whether it commits late or fails: a commit cut off by its deadline may still land.
      // By whom the writer's owner says (lateCopies): by then a repair may have chosen that node.
      void calls[i].then(({ tried }) => {
        const unlisted = tried.filter((id) => !listed.includes(id));
        return unlisted.length ? dropQuietly(this.lateCopies, this.log, this.versionId, unlisted, this.requestId) : undefined;
      });
    });
    // In the order the replicas were chosen, each node once: a target unreachable at open() stays in
    // `uploads` as a failed entry and may come back as a replacement, a second entry with its id.
    return [...new Set(this.uploads.map((u) => u.id))].filter((id) => listed.includes(id));
  }

  abort(): void {
    this.aborted = true;
    this.dropReplay();
    for (const u of this.uploads) u.up.abort();
  }

  /** No more replacements from the chunks kept: their share of the budget goes back. */
  private dropReplay(): void {
    if (this.replay === undefined) return;
    this.replay = undefined;
    this.budget.give(this.replayBytes);
    this.replayBytes = 0;
  }

  /**
   * Resolves once no replica of a finished upload can take another byte: every commit call settled,
   * a straggler's replacement too (it is sent the kept chunks). From then on the caller may reuse
   * every chunk it wrote, kept ones included.
   */
  async settled(): Promise<void> {
    await this.commits;
  }

  private fail(u: Replica, e: unknown): void {
    u.failed = writeFailed(this.nodes, this.log, u.id, this.versionId, e, this.requestId);
  }

  private checkQuorum(final = false): void {
    const live = this.live().length;
    if (live >= this.quorum && !final) return;
    this.abort();
    const integrity = this.uploads.find((u) => u.failed instanceof IntegrityError)?.failed;
    if (integrity) throw integrity;
    const reason = this.uploads.map((u) => u.failed).find((e) => e instanceof MiniS3Error) as MiniS3Error | undefined;
    throw new MiniS3Error(
      ErrorCode.QuorumNotReached,
      `only ${live} of ${this.uploads.length} replicas took the upload; the write quorum is ${this.quorum}` +
        (reason ? ` (${reason.message})` : ""),
    );
  }
}

/** One node's part of a large upload; `failed` once it dropped out. */
interface Replica {
  id: string;
  up: BlobUpload;
  failed?: unknown;
}

/** A node failed a write: the pool suspects it if it was unreachable (no more routing to it until it heartbeats). */
function writeFailed(nodes: NodePool, log: Logger, id: string, versionId: string, e: unknown, requestId: RequestId): unknown {
  nodes.failed(id, e);
  log.warn({ node: id, version: versionId, err: e, requestId }, "replica write failed");
  return e;
}

/**
 * Copies dropped through `drop`; a failure to (MariaDB away) is logged and leaves them to the orphan
 * sweep: never in a caller's error, never an unhandled rejection (a straggler's drop is not awaited).
 */
async function dropQuietly(drop: DropCopies, log: Logger, versionId: string, nodeIds: string[], requestId: RequestId): Promise<void> {
  try {
    await drop(versionId, nodeIds, requestId);
  } catch (e) {
    log.warn({ err: e, version: versionId, nodes: nodeIds, requestId }, "could not delete copies no commit names; the orphan sweep will");
  }
}

/**
 * Deletes copies; answers the nodes that still hold one. Each delete is fenced (NodeClient.deleteBlob):
 * one the node kept as put after it (DeleteFenced) counts as still held, so it stays pending under
 * the row and a later cleanup decides again.
 */
async function discardCopies(
  nodes: NodePool,
  log: Logger,
  versionId: string,
  nodeIds: string[],
  requestId: RequestId,
  stillHeld?: LockHeld,
): Promise<string[]> {
  const failed: string[] = [];
  await Promise.all(
    nodeIds.map(async (id) => {
      try {
        await nodes.client(id).deleteBlob(versionId, requestId, stillHeld);
      } catch (e) {
        failed.push(id);
        log.warn({ node: id, version: versionId, err: e, requestId }, "could not delete a copy");
      }
    }),
  );
  return failed;
}
