import { createHash } from "node:crypto";
import { ErrorCode, IntegrityError, MiniS3Error, NotFoundError } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { RequestId } from "../../common/request-context";
import type { NodePool } from "../cluster/node-pool";
import type { ObjectBody } from "../model/object-body";
import type { VersionRow } from "../model/version-row";
import type { BodyCache } from "./body-cache";

/** Copies that failed a checksum lately, remembered (oldest forgotten first) so reads try them last. */
const BAD_COPIES_REMEMBERED = 1024;

/**
 * How often one read follows its version's copies to where the lifecycle moved them. A move takes
 * seconds (a copy, a commit), so a read meets more than one only if it is paused for minutes.
 */
const RELOCATIONS_PER_READ = 3;

export interface OpenOptions {
  /** The replicas to read from (some of the version's); all of them by default. */
  sources?: readonly string[];
  /**
   * The version's copies as the catalogue lists them now. Asked when every copy tried vanished
   * mid-read (a promotion, demotion or trash move committed and deleted the old copies meanwhile):
   * the read resumes at the same byte on the copies the version has now, its bytes being the same.
   */
  relocate?: () => Promise<readonly string[]>;
}

/**
 * Reads a version's bytes from whichever of its replicas answers, live nodes first. A replica that
 * fails before the first byte is skipped; one that fails mid-stream is resumed on the next replica
 * at the byte where it stopped, so the client sees one unbroken body, unless it failed its
 * checksum: then the bytes already sent may be the bad ones, and the read fails instead.
 */
export class ReplicaReader {
  /** version id -> nodes whose copy failed a checksum here (until repair has replaced it, presumably). */
  private readonly badCopies = new Map<string, Set<string>>();

  /**
   * Bodies up to smallMax are read whole from the nodes' Exchange streams; onBadReplica hears of
   * missing or bad copies. `bodies`, if given, answers small reads before any node is asked, and
   * keeps what a node sent once it passed the checksum.
   */
  constructor(
    private readonly nodes: NodePool,
    private readonly smallMax: number,
    private readonly log: Logger,
    private readonly onBadReplica: (versionId: string, requestId: RequestId) => void = () => undefined,
    private readonly bodies?: BodyCache,
  ) {}

  /**
   * Live nodes first, then the others (a node just suspected may still answer); a copy that failed
   * its checksum lately goes last, so reads until its repair do not hit it again.
   */
  liveFirst(replicas: readonly string[], versionId?: string): string[] {
    const bad = versionId === undefined ? undefined : this.badCopies.get(versionId);
    // Three passes, not a copy sorted by rank: Array.prototype.sort's work arrays for a list of two
    // or three made ~0.8 % of the bytes the busy coordinator allocated under the overwrite row (each
    // trash move's copy orders its sources; sampling heap profile, 2026-12-07). Stable as before:
    // list order within a rank.
    const out: string[] = [];
    for (const id of replicas) if (!bad?.has(id) && this.nodes.isLive(id)) out.push(id);
    if (out.length === replicas.length) return out;
    for (const id of replicas) if (!bad?.has(id) && !this.nodes.isLive(id)) out.push(id);
    if (bad) for (const id of replicas) if (bad.has(id)) out.push(id);
    return out;
  }

  /**
   * Opens the range on the version's replicas (or `opts.sources`) for request `requestId`; throws
   * NotFoundError when none has the blob (moved or lost).
   */
  async open(v: VersionRow, offset: number, length: number, requestId: RequestId, opts: OpenOptions = {}): Promise<ObjectBody> {
    const small = v.size <= this.smallMax;
    const cached = small ? this.bodies?.get(v.versionId, "get") : undefined;
    if (cached) return single(cached.subarray(offset, offset + length));
    const replicas = this.liveFirst(opts.sources ?? v.replicas, v.versionId);
    if (small && replicas.length) return single((await this.firstWhole(v, replicas, requestId)).subarray(offset, offset + length));
    const first = await this.openAt(v, replicas, offset, length, requestId);
    // A replica read over the blob plane hands back any of its chunks, those of an earlier replica
    // of this read included (blob-http-get.ts recycleChunk); one over gRPC has nothing to hand back.
    let recycle = first.recycle;
    const body = this.stream(v, first, offset, length, requestId, opts.relocate, (r) => (recycle ??= r));
    // The first copy's fold stands for the whole read: a resume on another copy reads the same bytes.
    const blockCrc = first.blockCrc !== undefined && offset === 0 && length === v.size ? first.blockCrc : undefined;
    return Object.assign(body, { recycle: (chunk: Buffer) => recycle?.(chunk) }, blockCrc === undefined ? {} : { blockCrc });
  }

  /**
   * A small version's bytes in one buffer, checked against the catalogue's size and sha256 unless
   * `checked` is false: a copy's targets check them anyway, and here the hash would cost the
   * coordinator 10-25 µs of CPU per 4 KiB object. Bytes the body cache holds (checked when they
   * entered) are answered from it, whatever `sources`; unchecked ones never enter it.
   */
  readSmall(v: VersionRow, requestId: RequestId, sources: readonly string[] = v.replicas, checked = true): Promise<Buffer> {
    const cached = this.bodies?.get(v.versionId, "copy");
    if (cached) return Promise.resolve(cached);
    return this.firstWhole(v, this.liveFirst(sources, v.versionId), requestId, checked);
  }

  private async firstWhole(v: VersionRow, replicas: string[], requestId: RequestId, checked = true): Promise<Buffer> {
    let lastError: unknown;
    for (const id of replicas) {
      try {
        const { data } = await this.nodes.client(id).getSmall(v.versionId, requestId);
        if (!checked) return data;
        if (data.length !== v.size || createHash("sha256").update(data).digest("hex") !== v.sha256) {
          throw new IntegrityError(`replica on ${id} does not match the catalogue's checksum`);
        }
        this.bodies?.put(v.versionId, data);
        return data;
      } catch (e) {
        lastError = this.note(id, v, e, requestId);
      }
    }
    throw this.finalError(v, lastError);
  }

  private async openAt(v: VersionRow, replicas: string[], offset: number, length: number, requestId: RequestId) {
    let lastError: unknown;
    for (const id of replicas) {
      try {
        const read = await this.nodes.client(id).readBlob(v.versionId, offset, length, requestId);
        // A fold only from a copy that names this version's bytes (its own header's size and sha256).
        const named = read.blockCrc !== undefined && read.meta.size === v.size && read.meta.sha256.toString("hex") === v.sha256;
        return {
          id,
          chunks: read.chunks,
          recycle: read.recycle?.bind(read),
          rest: replicas.slice(replicas.indexOf(id) + 1),
          from: offset,
          blockCrc: named ? read.blockCrc : undefined,
        };
      } catch (e) {
        lastError = this.note(id, v, e, requestId);
      }
    }
    throw this.finalError(v, lastError);
  }

  private async *stream(
    v: VersionRow,
    first: { id: string; chunks: AsyncIterable<Buffer>; recycle?: (chunk: Buffer) => void; rest: string[]; from: number },
    offset: number,
    length: number,
    requestId: RequestId,
    relocate: OpenOptions["relocate"],
    resumed: (recycle: ((chunk: Buffer) => void) | undefined) => void,
  ): AsyncGenerator<Buffer> {
    let current = first;
    let pos = offset;
    const end = offset + length;
    let relocations = 0;
    for (;;) {
      let ended = false;
      try {
        for await (const chunk of current.chunks) {
          pos += chunk.length;
          yield chunk;
        }
        ended = true;
        if (pos !== end) throw new IntegrityError(`replica on ${current.id} ended at byte ${pos} of ${end}`);
        return;
      } catch (e) {
        this.note(current.id, v, e, requestId);
        // The node found its copy corrupt after sending some of it: those bytes cannot be taken back
        // and may be the bad ones, so the read fails (the client sees a cut body, never a wrong one;
        // review finding 3). A copy that ended short sent only good bytes: the next one resumes.
        if (e instanceof IntegrityError && !ended && pos > current.from) throw e;
        let rest = current.rest;
        // Every copy tried is gone: a move committed under this read (a cold read's own promotion,
        // typically) and deleted them. The version's bytes live on where the catalogue says now.
        if (!rest.length && e instanceof NotFoundError && relocate && relocations++ < RELOCATIONS_PER_READ) {
          rest = this.liveFirst(await relocate(), v.versionId);
          if (rest.length)
            this.log.info(
              { version: v.versionId, from: current.id, to: rest, at: pos, requestId },
              "copy moved mid-read; resuming where it is now",
            );
        }
        if (!rest.length)
          throw e instanceof MiniS3Error ? e : new MiniS3Error(ErrorCode.BytesUnreachable, `read failed: ${(e as Error).message}`);
        if (rest === current.rest)
          this.log.warn({ version: v.versionId, from: current.id, at: pos, requestId }, "resuming read on another replica");
        current = await this.openAt(v, rest, pos, end - pos, requestId);
        resumed(current.recycle);
      }
    }
  }

  private note(id: string, v: VersionRow, e: unknown, requestId: RequestId): unknown {
    this.nodes.failed(id, e);
    if (e instanceof IntegrityError) this.rememberBad(v.versionId, id);
    if (e instanceof IntegrityError || e instanceof NotFoundError) this.onBadReplica(v.versionId, requestId);
    if (!(e instanceof NotFoundError)) this.log.warn({ node: id, version: v.versionId, err: e, requestId }, "replica read failed");
    return e;
  }

  private rememberBad(versionId: string, nodeId: string): void {
    const nodes = this.badCopies.get(versionId) ?? new Set<string>();
    this.badCopies.delete(versionId); // re-inserted: the newest entry
    this.badCopies.set(versionId, nodes.add(nodeId));
    if (this.badCopies.size > BAD_COPIES_REMEMBERED) this.badCopies.delete(this.badCopies.keys().next().value!);
  }

  private finalError(v: VersionRow, lastError: unknown): MiniS3Error {
    if (lastError instanceof NotFoundError) return new NotFoundError(`no replica holds version ${v.versionId}`);
    if (lastError instanceof MiniS3Error) return lastError;
    return new MiniS3Error(ErrorCode.BytesUnreachable, `no replica of ${v.bucket}/${v.key} could be read`);
  }
}

async function* single(chunk: Buffer): AsyncGenerator<Buffer> {
  yield chunk;
}
