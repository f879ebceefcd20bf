import { randomInt } from "node:crypto";
import type { BlobBackend, BlobMeta, BlobReader, BlobVerification, BlobWriter, WireCheck } from "../blob-backend";
import type { NodeStats } from "../../membership/node-record";

/**
 * Puts remembered per generation; two are kept (16 Ki blob ids at most, ~1.5 MB). At 2,300 puts/s a
 * generation lasts ~3.5 s, and a delete names a position its client heard milliseconds before: one
 * older than that is asked again. Larger costs more than it saves: with 64 Ki a storage node's CPU per
 * delete over Exchange measured ~+4-6 µs against none (medians, 64 in flight, a shared machine; 1 Ki
 * and 8 Ki within its noise), the retained ids' weight on the collector.
 */
export const GENERATION_PUTS = 8 * 1024;

/** Where a node's put sequence stood: its process (`boot`) and the puts begun in it (`seq`). */
export interface PutPosition {
  boot: number;
  seq: number;
}

export type FencedDelete = "deleted" | "absent" | "fenced";

/** `backend` as the one fence every put and delete of a node goes through (itself when it is one). */
export function fencedBackend(backend: BlobBackend): FencedBackend {
  return backend instanceof FencedBackend ? backend : new FencedBackend(backend);
}

/**
 * A DeleteBlob request (on the Exchange stream or unary) as the node answers it: a fence of boot 0
 * is an older coordinator's unfenced delete.
 */
export async function answerDelete(
  backend: FencedBackend,
  r: { blobId: string; fenceBoot: number; fenceSeq: number },
): Promise<{ existed: boolean; fenced: boolean }> {
  const outcome = await backend.deleteFenced(r.blobId, r.fenceBoot ? { boot: r.fenceBoot, seq: r.fenceSeq } : undefined);
  return { existed: outcome === "deleted", fenced: outcome === "fenced" };
}

/**
 * A node's delete fence (ARCHITECTURE.md "Lifecycle": "A copy's delete is fenced on the node").
 * A coordinator deletes a copy under its row's lock, but the delete can reach the node after that
 * lock is gone (its call
 * timed out, its coordinator died with it unread in a socket buffer): by then another job may have
 * claimed the node and written a new copy of the same version, and committed it. So the node numbers
 * every put it begins (per process: a random `boot`, then `seq`), reports where it stands in every
 * Exchange message, and a delete names the position its sender saw before sending it: only a copy
 * put at or before it goes. Any put a claim made after the lock went was begun after the node sent
 * that position, so it is numbered after it.
 *
 * Kept in memory: a restart begins a new boot, and a delete naming an older one is fenced (its
 * sender asks again with the new position). Only the last two generations of puts are remembered;
 * a delete whose position is older than what was forgotten is fenced for a blob it cannot place.
 *
 * Within the node, a put of a blob waits for a delete of it already running (a file's unlink must
 * not take a new file renamed in after the decision), so the order decided is the order done.
 */
export class FencedBackend implements BlobBackend {
  /** 1 .. 2^48: 0 on the wire means "no fence" (an older coordinator, an older node). */
  readonly boot = randomInt(1, 2 ** 48);
  private seq = 0;
  private recent = new Map<string, number>();
  private older = new Map<string, number>();
  /** Every put numbered below it is forgotten (1: none yet). */
  private floor = 1;
  private recentFrom = 1;
  private readonly deleting = new Map<string, Promise<unknown>>();

  constructor(readonly inner: BlobBackend) {}

  get kind(): BlobBackend["kind"] {
    return this.inner.kind;
  }

  /** Where the sequence stands now: every put begun so far is numbered at most this. */
  get position(): PutPosition {
    return { boot: this.boot, seq: this.seq };
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  putSmall(blobId: string, attributes: Record<string, string>, data: Buffer, sha256: Buffer, crc32?: number): Promise<BlobMeta> {
    const wait = this.begin(blobId);
    if (!wait) return this.inner.putSmall(blobId, attributes, data, sha256, crc32);
    return wait.then(() => this.inner.putSmall(blobId, attributes, data, sha256, crc32));
  }

  async beginWrite(blobId: string, attributes: Record<string, string>, check?: WireCheck): Promise<BlobWriter> {
    const writer = await this.inner.beginWrite(blobId, attributes, check);
    // Numbered at its commit, when it replaces what the node holds (the bytes before it may take
    // minutes). Patched in place: the writer keeps whatever else its backend gave it.
    const commit = writer.commit.bind(writer);
    writer.commit = (size, sha256, blockCrc) => {
      const wait = this.begin(blobId);
      return wait ? wait.then(() => commit(size, sha256, blockCrc)) : commit(size, sha256, blockCrc);
    };
    return writer;
  }

  read(blobId: string, offset: number, length: number | undefined, chunkBytes?: number): Promise<BlobReader> {
    return this.inner.read(blobId, offset, length, chunkBytes);
  }

  stat(blobId: string): Promise<BlobMeta | null> {
    return this.inner.stat(blobId);
  }

  verify(blobId: string, signal?: AbortSignal): Promise<BlobVerification> {
    return this.inner.verify(blobId, signal);
  }

  /** Unfenced (an older coordinator's, or the node's own callers'): today's delete. */
  delete(blobId: string): Promise<boolean> {
    return this.run(blobId);
  }

  /**
   * A delete naming a position (`fence`; undefined: unfenced): "fenced" and nothing deleted when the
   * blob's latest put was begun after it, or the node cannot tell.
   */
  async deleteFenced(blobId: string, fence: PutPosition | undefined): Promise<FencedDelete> {
    if (fence && !this.allows(blobId, fence)) return "fenced";
    return (await this.run(blobId)) ? "deleted" : "absent";
  }

  list(): AsyncIterable<BlobMeta> {
    return this.inner.list();
  }

  stats(): Promise<NodeStats> {
    return this.inner.stats();
  }

  /** Numbers a put of `blobId` beginning now; a promise to wait for when a delete of it is running. */
  private begin(blobId: string): Promise<unknown> | undefined {
    const seq = ++this.seq;
    this.recent.set(blobId, seq);
    if (this.recent.size >= GENERATION_PUTS) {
      this.floor = this.recentFrom;
      this.older = this.recent;
      this.recent = new Map();
      this.recentFrom = seq + 1;
    }
    return this.deleting.get(blobId);
  }

  private allows(blobId: string, fence: PutPosition): boolean {
    if (fence.boot !== this.boot) return false;
    const put = this.recent.get(blobId) ?? this.older.get(blobId);
    // Not remembered: put before `floor` (or before this process): surely at or before the
    // position only if nothing after it was forgotten.
    return put === undefined ? this.floor <= fence.seq + 1 : put <= fence.seq;
  }

  /** The backend's delete, decided now; puts of the blob that begin meanwhile wait for it. */
  private run(blobId: string): Promise<boolean> {
    const before = this.deleting.get(blobId);
    const done = before ? before.then(() => this.inner.delete(blobId)) : this.inner.delete(blobId);
    const settled = done.catch(() => undefined);
    this.deleting.set(blobId, settled);
    void settled.then(() => {
      if (this.deleting.get(blobId) === settled) this.deleting.delete(blobId);
    });
    return done;
  }
}
