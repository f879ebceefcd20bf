import { ErrorCode, IntegrityError, MiniS3Error } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { BlobUpload } from "../../rpc/client/node-client";
import type { NodePool } from "../cluster/node-pool";

/** Attributes a node keeps with a copy (the backup and trash tiers keep the key beside the bytes). */
export type CopyAttributes = Record<string, string>;

/**
 * How long a large upload that has its write quorum still waits for the other replicas at least
 * (replicas on healthy nodes commit within milliseconds of each other; a stuck one never does).
 */
const STRAGGLER_GRACE_MS = 1000;

/** Shared, never written: a hot-path put does not allocate an empty object each time. */
const NO_ATTRIBUTES: CopyAttributes = {};

/**
 * Writes a version's bytes to several nodes with a write quorum, and discards copies. Small bodies
 * go whole and may fall over down a preference list; large ones stream to fixed targets. Below the
 * quorum, the copies made are discarded and the write fails: no caller ever sees a partial write.
 */
export class ReplicaWriter {
  constructor(
    private readonly nodes: NodePool,
    private readonly log: Logger,
  ) {}

  /**
   * A whole small body to `count` nodes of `candidates`, moving on down the list past nodes that
   * fail (the engine passes the key's live preference list; a caller with fixed targets passes
   * count = candidates.length, so nothing falls over). Returns the nodes that hold it.
   */
  async putSmall(
    versionId: string,
    data: Buffer,
    sha256: Buffer,
    candidates: string[],
    count: number,
    quorum: number,
    attributes: CopyAttributes = NO_ATTRIBUTES,
  ): Promise<string[]> {
    const ok: string[] = [];
    let next = 0;
    let lastError: unknown;
    let refused: IntegrityError | undefined;
    while (ok.length < count && next < candidates.length) {
      const batch = candidates.slice(next, next + count - ok.length);
      next += batch.length;
      const results = await Promise.allSettled(batch.map((id) => this.nodes.client(id).putSmall(versionId, attributes, data, sha256)));
      results.forEach((r, i) => {
        if (r.status === "fulfilled") ok.push(batch[i]);
        else {
          lastError = writeFailed(this.nodes, this.log, batch[i], versionId, r.reason);
          if (lastError instanceof IntegrityError) refused = lastError;
        }
      });
    }
    if (ok.length < quorum) {
      await this.discard(versionId, ok);
      if (refused) throw refused; // the bytes were bad, not the nodes (as a large write says too)
      throw new MiniS3Error(
        ErrorCode.QuorumNotReached,
        `only ${ok.length} replicas took the upload; the write quorum is ${quorum}` +
          (lastError instanceof MiniS3Error ? ` (${lastError.message})` : ""),
      );
    }
    return ok;
  }

  /** A large body streamed to all `targets` at once (no fall-over: its first bytes are gone already). */
  startLarge(versionId: string, targets: string[], quorum: number, attributes: CopyAttributes = NO_ATTRIBUTES): ReplicatedUpload {
    return new ReplicatedUpload(this.nodes, this.log, targets, versionId, quorum, attributes);
  }

  /** Deletes copies, best effort; returns the nodes where the delete failed (for a caller that retries). */
  discard(versionId: string, nodeIds: string[]): Promise<string[]> {
    return discardCopies(this.nodes, this.log, versionId, nodeIds);
  }
}

/**
 * A large upload streamed to several nodes at once. Each chunk goes to every replica still in the
 * game and the next chunk waits until all of them took it (backpressure from the slowest replica;
 * memory stays at a chunk or two). A replica that fails drops out; below the write quorum the whole
 * upload fails and every replica discards its bytes.
 */
export class ReplicatedUpload {
  private readonly uploads: { id: string; up: BlobUpload; failed?: unknown }[];

  constructor(
    private readonly nodes: NodePool,
    private readonly log: Logger,
    targets: string[],
    private readonly versionId: string,
    private readonly quorum: number,
    attributes: CopyAttributes,
  ) {
    this.uploads = targets.map((id) => ({ id, up: nodes.client(id).writeBlob(versionId, attributes) }));
  }

  private live() {
    return this.uploads.filter((u) => u.failed === undefined);
  }

  async write(chunk: Buffer): Promise<void> {
    await Promise.all(this.live().map((u) => u.up.write(chunk).catch((e) => this.fail(u, e))));
    this.checkQuorum();
  }

  /**
   * Sends size and sha256; returns the nodes that made the blob durable (at least the quorum).
   * Once the quorum has committed, the others get as long again (at least STRAGGLER_GRACE_MS) and
   * no more: a replica stuck in its commit must not hold an upload that is safe (correctness review,
   * finding 8). A straggler's copy is left out of the answer and deleted once its call settles, so
   * no unlisted copy stays behind (the version is short of R and the caller has it repaired).
   */
  async finish(size: number, sha256: Buffer): Promise<string[]> {
    const ok: string[] = [];
    const live = this.live();
    const started = performance.now();
    let settled = 0;
    let quorumAt: number | undefined;
    let quorumOrAll!: () => void;
    const enough = new Promise<void>((resolve) => (quorumOrAll = resolve));
    const calls = live.map((u) =>
      u.up
        .finish(size, sha256)
        .then(
          () => {
            ok.push(u.id);
            if (ok.length === this.quorum) quorumAt = performance.now();
          },
          (e) => this.fail(u, e),
        )
        .finally(() => {
          if (++settled === live.length || ok.length >= this.quorum) quorumOrAll();
        }),
    );
    await enough;
    if (quorumAt !== undefined && settled < live.length) {
      const graceMs = Math.max(STRAGGLER_GRACE_MS, quorumAt - started);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(calls), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    const listed = [...ok];
    if (listed.length < this.quorum) {
      await discardCopies(this.nodes, this.log, this.versionId, listed);
      this.checkQuorum(true);
    }
    live.forEach((u, i) => {
      if (listed.includes(u.id) || u.failed !== undefined) return;
      this.log.warn(
        { node: u.id, version: this.versionId },
        "replica had not committed when the write quorum had; its copy will be deleted",
      );
      // Deleted whether it commits late or fails: a commit cut off by its deadline may still land.
      void calls[i].then(() => discardCopies(this.nodes, this.log, this.versionId, [u.id]));
    });
    return this.uploads.filter((u) => listed.includes(u.id)).map((u) => u.id);
  }

  abort(): void {
    for (const u of this.uploads) u.up.abort();
  }

  private fail(u: { id: string; failed?: unknown }, e: unknown): void {
    u.failed = writeFailed(this.nodes, this.log, u.id, this.versionId, e);
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

/** A node failed a write: the pool suspects it if it was unreachable (no more routing to it until it heartbeats). */
function writeFailed(nodes: NodePool, log: Logger, id: string, versionId: string, e: unknown): unknown {
  nodes.failed(id, e);
  log.warn({ node: id, version: versionId, err: e }, "replica write failed");
  return e;
}

async function discardCopies(nodes: NodePool, log: Logger, versionId: string, nodeIds: string[]): Promise<string[]> {
  const failed: string[] = [];
  await Promise.all(
    nodeIds.map(async (id) => {
      try {
        await nodes.client(id).deleteBlob(versionId);
      } catch (e) {
        failed.push(id);
        log.warn({ node: id, version: versionId, err: e }, "could not delete a copy");
      }
    }),
  );
  return failed;
}
