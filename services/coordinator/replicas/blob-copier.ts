import { ErrorCode, hasCode, IntegrityError, MiniS3Error } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { RequestId } from "../../common/request-context";
import { Semaphore } from "../../common/semaphore";
import type { NodePool } from "../cluster/node-pool";
import { type LockHeld, PullUnsupported } from "../../rpc/client/node-client";
import type { VersionRow } from "../model/version-row";
import type { BodyCache } from "./body-cache";
import { ReplicaReader } from "./replica-reader";
import { type DropCopies, ReplicaWriter, type CopyAttributes } from "./replica-writer";

/** A large version's copy: its sources (live first), the copy's attributes, the request that caused it. */
interface LargeCopy {
  v: VersionRow;
  /** The version's sha256, as the catalogue names it (hex there). */
  sha256: Buffer;
  ordered: string[];
  attributes: CopyAttributes | undefined;
  requestId: RequestId;
}

/**
 * Copies a version's bytes between tiers: a ReplicaReader on the sources (live first, resumed on
 * the next source mid-stream) into a ReplicaWriter on the targets. Each target checks size and
 * sha256 against the catalogue's before it makes the copy durable, so a copy that returns is
 * verified in the next tier; a large copy whose source keeps block crc32s (and names the version's
 * size and sha256) is checked by their fold instead, which the bytes the version was uploaded with
 * had too. The caller names the targets: a copy does not fall over to others.
 */
export class BlobCopier {
  /**
   * Streaming copies (large objects) run one at a time, whatever the queues' concurrency; small
   * ones are not held up by them. Each keeps several MiB in flight (HTTP/2 windows, stream
   * buffers), and the allocator keeps what was freed: after three 64 MiB objects were read, their
   * trash moves left the coordinator ~65 MiB larger for good eight at a time, ~70 MiB two at a
   * time, ~3 MiB one at a time. (A copy of a large object is disk- and network-bound anyway.)
   */
  private readonly streams = new Semaphore(1);
  private readonly reader: ReplicaReader;
  private readonly writer: ReplicaWriter;

  /**
   * Blobs up to smallMax travel whole on the nodes' Exchange streams (no call, no file each); those
   * `bodies` holds are copied from it, no node read (an overwrite's trash move copies the version
   * the upload just replaced, usually still held).
   */
  constructor(
    private readonly nodes: NodePool,
    private readonly log: Logger,
    private readonly smallMax: number,
    bodies?: BodyCache,
    /**
     * Deletes a version's `strays` under its row lock, sparing the nodes it lists (Catalogue.cleanCopies):
     * how a large copy's straggler (done after the copy answered) and a copy below its quorum have their
     * copies deleted. Without it, at once.
     */
    cleanCopies?: (
      versionId: string,
      strays: string[],
      remove: (nodeIds: string[], stillHeld: LockHeld) => Promise<string[]>,
    ) => Promise<string[]>,
  ) {
    this.reader = new ReplicaReader(nodes, smallMax, log, undefined, bodies);
    // A straggler's late copy and the copies of a copy below its quorum alike: another run of the
    // same job may have committed that node, and its copy has the same blob id.
    const underLock: DropCopies | undefined =
      cleanCopies && ((id, nodeIds, requestId) => cleanCopies(id, nodeIds, (ids, held) => this.writer.discard(id, ids, requestId, held)));
    this.writer = new ReplicaWriter(nodes, log, { lateCopies: underLock, failedCopies: underLock });
  }

  /**
   * Returns the targets holding a verified copy (at least `quorum`, else it throws). Its node ops and
   * lines name `requestId`, the request that caused the move, if one did.
   */
  async copy(
    v: VersionRow,
    sources: string[],
    targets: string[],
    quorum: number,
    attributes?: CopyAttributes,
    requestId?: RequestId,
  ): Promise<string[]> {
    const sha256 = Buffer.from(v.sha256, "hex");
    const ordered = this.reader.liveFirst(sources);
    if (v.size <= this.smallMax) {
      return this.ledByEachSource(v, ordered, requestId, async (from) => {
        const data = await this.reader.readSmall(v, requestId, from, false);
        return this.writer.putSmall(v.versionId, data, { sha256 }, targets, targets.length, quorum, attributes, requestId);
      });
    }
    return this.streams.run(() => this.pulledOrRelayed({ v, sha256, ordered, attributes, requestId }, targets, quorum));
  }

  /**
   * A large copy: each target pulls the bytes from the sources itself, node to node (NodeClient
   * pullBlob), which spares this process reading and sending every byte (~110 ms of its CPU per
   * 64 MiB trash move: 1,100 ms for ten, npm start's cluster, 2026-12-06). A target that could not
   * (a node too old for the call, one that reached no source) gets the bytes streamed through here
   * as before. One that failed otherwise (down, stuck, its disk, every source's copy refused) is
   * failed for this copy, as a streamed one would be.
   */
  private async pulledOrRelayed(copy: LargeCopy, targets: string[], quorum: number): Promise<string[]> {
    const { v, sha256, ordered, attributes, requestId } = copy;
    const sources = ordered.map((id) => ({ nodeId: id, address: this.nodes.client(id).address }));
    const failures = await Promise.all(
      targets.map((id) =>
        this.nodes
          .client(id)
          .pullBlob(v.versionId, attributes ?? {}, v.size, sha256, sources, requestId)
          .then(
            () => undefined,
            (e: unknown) => e,
          ),
      ),
    );
    const done = targets.filter((_, i) => failures[i] === undefined);
    const relay = targets.filter((_, i) => failures[i] instanceof PullUnsupported || hasCode(failures[i], ErrorCode.BytesUnreachable));
    let relayFailure: unknown;
    if (relay.length) {
      this.log.debug({ version: v.versionId, targets: relay, requestId }, "targets could not pull the copy; streaming it through");
      try {
        done.push(...(await this.relayed(copy, relay, Math.max(1, quorum - done.length))));
      } catch (e) {
        relayFailure = e;
      }
    }
    if (done.length >= quorum) return done;
    const failed = failures.filter((e) => e !== undefined);
    if (relayFailure) throw relayFailure;
    if (failed.every((e) => e instanceof IntegrityError)) throw failed[0];
    const why = failed.find((e) => e instanceof Error) as Error | undefined;
    throw new MiniS3Error(
      ErrorCode.QuorumNotReached,
      `only ${done.length} of ${targets.length} targets took the copy of ${v.versionId}; the write quorum is ${quorum}` +
        (why ? ` (${why.message})` : ""),
    );
  }

  /** The bytes read from the sources here and written to `targets` (at least `quorum` of them). */
  private relayed({ v, sha256, ordered, attributes, requestId }: LargeCopy, targets: string[], quorum: number): Promise<string[]> {
    return this.ledByEachSource(v, ordered, requestId, async (from) => {
      const body = await this.reader.open(v, 0, v.size, requestId, { sources: from });
      // With the source copy's block crc32 fold, the targets check the bytes by it, not by a
      // sha256 of their own (~40 ms of a target's CPU per 64 MiB; the fold is the table the
      // source checked every block against as it read, so a byte changed on the way still fails).
      const check = body.blockCrc === undefined ? "sha256" : "blockCrc";
      const upload = this.writer.startLarge(v.versionId, targets, quorum, attributes, [], requestId, check);
      try {
        // A chunk sent on is handed back to the reader, whose read buffers are then read into again:
        // fresh ones for every 64 KiB left a 64 MiB trash move's garbage to V8's mark-compacts.
        for await (const chunk of body) if (await upload.write(chunk)) body.recycle?.(chunk);
        return await upload.finish(v.size, sha256, body.blockCrc);
      } catch (e) {
        upload.abort();
        throw e;
      }
    });
  }

  /**
   * A source's copy can be bad in a way only its checksum shows. The targets check it and refuse
   * it; then the copy starts over led by the next source (the others stay behind it for a resume).
   */
  private async ledByEachSource(
    v: VersionRow,
    ordered: string[],
    requestId: RequestId,
    copy: (from: string[]) => Promise<string[]>,
  ): Promise<string[]> {
    for (let lead = 0; ; lead++) {
      try {
        return await copy([...ordered.slice(lead), ...ordered.slice(0, lead)]);
      } catch (e) {
        if (!(e instanceof IntegrityError) || lead + 1 >= ordered.length) throw e;
        this.log.warn({ version: v.versionId, source: ordered[lead], err: e, requestId }, "copy refused as corrupt; trying another source");
      }
    }
  }

  /**
   * Deletes copies, best effort; returns the nodes where the delete failed (to retry later).
   * `stillHeld`: the caller's row lock, proven before a fenced delete is asked again.
   */
  remove(versionId: string, nodeIds: string[], requestId?: RequestId, stillHeld?: LockHeld): Promise<string[]> {
    return this.writer.discard(versionId, nodeIds, requestId, stillHeld);
  }
}
