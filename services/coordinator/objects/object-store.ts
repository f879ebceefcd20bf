import { freeBodyPiece } from "../../common/body-pieces";
import { isDatabaseUnavailable } from "../../common/db/datasource";
import { AbortedError, ErrorCode, hasCode, InvalidArgumentError, isMiniS3Error, MiniS3Error, NotFoundError } from "../../common/errors";
import { newVersionId, VERSION_ID_RE } from "../../common/ids";
import { joinAsChunk } from "../../rpc/wire/blob-stream-codec";
import type { Logger } from "../../common/logger";
import type { RequestId } from "../../common/request-context";
import type { AccessTracker } from "../catalogue/access-tracker";
import type { Catalogue, NewVersion } from "../catalogue/catalogue";
import { isTakenOver } from "../catalogue/catalogue";
import { nextTransition, toObjectView } from "../model/object-view";
import type { VersionRow } from "../model/version-row";
import { bytesOutOfReach, type NodePool } from "../cluster/node-pool";
import type { Placement } from "../placement/placement";
import { resolveRange } from "./byte-range";
import { checkBucket, checkContentType, checkKey, checkMetadata } from "./names";
import { listKeys, listVersions } from "./key-listing";
import type {
  ByteRange,
  DeleteResult,
  GetResult,
  KeyListing,
  KeyListQuery,
  ListResult,
  ObjectEngine,
  ObjectView,
  PutInput,
  TrashListResult,
  VersionListing,
  VersionListQuery,
} from "./object-engine";
import { digestMismatch, type ExpectedDigests } from "./object-engine";
import type { ObjectEvents, Undeleter } from "./object-events";
import type { BodyCache } from "../replicas/body-cache";
import { ReplicaReader } from "../replicas/replica-reader";
import { REPLAY_BUDGET_BYTES, ReplicaWriter } from "../replicas/replica-writer";
import { UploadBody } from "./upload-body";
import { UploadChunkPool } from "./upload-chunk-pool";
import { LargeUploadGate, type LargeUploadLimits, type UploadTurn } from "./large-upload-gate";
import { type BufferRoom, UploadBuffer, type UploadBufferLimits } from "./upload-buffer";
import { committedDespiteError, type FailedCommitDeps } from "./failed-commit";
import { digestOf, DigestThread, type UploadDigest } from "./upload-digest";

export interface ObjectStoreOptions {
  replicas: number;
  writeQuorum: number;
  maxObjectSize: number;
  /** Chunk size between processes; bodies up to this size travel whole on the nodes' Exchange streams. */
  chunkSize: number;
  /** MINIS3_HOT_TTL: when a live hot version is due for demotion (head's `next`). */
  hotTtlMs: number;
  /** MINIS3_LARGE_UPLOADS and MINIS3_LARGE_UPLOAD_WAIT (large-upload-gate.ts); none: no bound. */
  largeUploads?: LargeUploadLimits;
  /** MINIS3_UPLOAD_BUFFER and MINIS3_UPLOAD_BUFFER_WAIT (upload-buffer.ts); none: no bound. */
  uploadBuffer?: UploadBufferLimits;
}

/** A multipart Complete's object as ObjectStore.putComposed makes it: its parts' blobs, in order. */
export interface ComposedInput {
  bucket: string;
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  /** The multipart ETag ("<hex md5 of the parts' md5s>-<part count>"). */
  etag: string;
  parts: readonly { blobId: string; size: number; sha256: string; replicas: readonly string[] }[];
  /** The Complete's claim on its upload (PutInput.completes). */
  completes?: PutInput["completes"];
  requestId: RequestId;
}

/** The slice of the coordinator's context the engine works with, and the ports it reports through. */
export interface ObjectStoreDeps {
  readonly catalogue: Catalogue;
  readonly placement: Placement;
  readonly nodes: NodePool;
  readonly access: AccessTracker;
  readonly log: Logger;
  /** Where commits, deletes, cold reads and missing copies are reported (the lifecycle's scheduler). */
  readonly events: ObjectEvents;
  readonly undeleter: Undeleter;
  /** Small versions' bytes: an upload's once committed, a read's once checked; reads look here first. */
  readonly bodies?: BodyCache;
}

/**
 * A large upload goes to its replicas in chunks of 1 MiB, not MINIS3_CHUNK_SIZE's 256 KiB: a quarter
 * of the joins, replica writes (two per chunk at RF 2), write callbacks and awaits per MiB, and a
 * node finds more of the body queued per disk write. Bench B A x4 at load 13-20 (2026-12-03),
 * coordinator + storage nodes CPU per MiB moved, means: 64 MiB one at a time 15.0 -> 13.2, two at
 * once 12.5 -> 10.2, 1 GiB 10.5 -> 9.0 (bench/README.md "Large uploads in 1 MiB chunks"). Memory: the
 * chunk being joined and the one being sent, 2 MiB per upload instead of 512 KiB. (1 MiB chunks were
 * tried on 2026-12-01 and not kept: each was a gRPC message then; the blob plane writes it as it is.)
 */
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;

/**
 * Whole chunks kept between uploads (upload-chunk-pool.ts): what one upload holds at most, its
 * chunks kept for a replacement (8 MiB) and the two it alternates past them. Memory: 10 MiB that a
 * large upload takes back from the pool rather than allocates.
 */
const UPLOAD_CHUNK_POOL = 10;
/** Uploads at once whose chunks the pool keeps while they come: aws cli's parts in flight (max_concurrent_requests). */
const UPLOAD_CHUNK_BURST = 10;

/**
 * What the pool keeps at most while uploads come: every chunk the replay budget lets uploads keep
 * for a replacement, and the two each of a burst's uploads alternates. Memory: 44 MiB at 1 MiB
 * chunks, held only while uploads take them (upload-chunk-pool.ts lets go every 2 s of what sat
 * unused, down to UPLOAD_CHUNK_POOL), where such a burst holds as much in flight anyway.
 */
function chunkPoolMax(chunkBytes: number): number {
  return Math.max(UPLOAD_CHUNK_POOL, Math.ceil(REPLAY_BUDGET_BYTES / chunkBytes) + 2 * UPLOAD_CHUNK_BURST);
}

/**
 * A new version's names, checked before any byte moves: a value the catalogue cannot hold would
 * fail only at commit, after the copies.
 */
function checkedNames(input: Pick<PutInput, "bucket" | "key" | "contentType" | "metadata">) {
  return {
    bucket: checkBucket(input.bucket),
    key: checkKey(input.key),
    contentType: checkContentType(input.contentType || "application/octet-stream"),
    metadata: checkMetadata(input.metadata ?? {}),
  };
}

const cursorOf = (key: string) => Buffer.from(key, "utf8").toString("base64url");
const keyOfCursor = (cursor: string) => (cursor ? Buffer.from(cursor, "base64url").toString("utf8") : "");

/**
 * The object engine: uploads go to the key's replicas on the ring (small bodies whole, large ones
 * streamed to all replicas at once), become visible when the catalogue commits; reads stream from
 * a live replica with fail-over; deletes hide the key at once and leave the bytes to the lifecycle.
 */
export class ObjectStore implements ObjectEngine {
  private readonly catalogue: Catalogue;
  private readonly placement: Placement;
  private readonly access: AccessTracker;
  private readonly log: Logger;
  private readonly events: ObjectEvents;
  private readonly undeleter: Undeleter;
  private readonly reader: ReplicaReader;
  private readonly writer: ReplicaWriter;
  private readonly nodes: NodePool;
  private readonly digests = new DigestThread();
  /** Whole upload chunks for the next joins: a burst's while uploads come (chunkPoolMax), else UPLOAD_CHUNK_POOL. */
  private readonly chunks: UploadChunkPool;
  private readonly failedCommits: FailedCommitDeps;
  private readonly bodies?: BodyCache;
  /** Large uploads streaming at once, bounded (large-upload-gate.ts). */
  readonly largeUploads?: LargeUploadGate;
  /** The bytes of upload heads held at once, bounded (upload-buffer.ts). */
  readonly uploadBuffer?: UploadBuffer;
  /** Uploads between their first byte and their commit's outcome: what a straggler's late copy waits for (dropLateCopies). */
  private readonly committing = new Map<string, Promise<void>>();

  constructor(
    deps: ObjectStoreDeps,
    private readonly opts: ObjectStoreOptions,
  ) {
    const chunkBytes = Math.max(opts.chunkSize, UPLOAD_CHUNK_BYTES);
    this.chunks = new UploadChunkPool(chunkBytes, UPLOAD_CHUNK_POOL, chunkPoolMax(chunkBytes));
    if (opts.largeUploads) this.largeUploads = new LargeUploadGate(opts.largeUploads);
    if (opts.uploadBuffer) this.uploadBuffer = new UploadBuffer(opts.uploadBuffer);
    this.catalogue = deps.catalogue;
    this.placement = deps.placement;
    this.access = deps.access;
    this.log = deps.log;
    this.events = deps.events;
    this.undeleter = deps.undeleter;
    this.nodes = deps.nodes;
    this.bodies = deps.bodies;
    this.reader = new ReplicaReader(
      deps.nodes,
      opts.chunkSize,
      this.log,
      (id, requestId) => this.events.underReplicated(id, requestId),
      deps.bodies,
    );
    this.writer = new ReplicaWriter(deps.nodes, this.log, {
      lateCopies: (id, nodeIds, rid) => this.dropLateCopies(id, nodeIds, rid),
      ownBlobs: true, // its discards: an upload's version not committed (a straggler's late copy goes under the row's lock)
    });
    this.failedCommits = {
      version: (id) => this.catalogue.version(id),
      discard: (id, replicas, requestId) => this.writer.discard(id, replicas, requestId),
      log: this.log,
    };
  }

  /** After the front doors have stopped: ends the digest thread. */
  async close(): Promise<void> {
    await this.digests.close();
  }

  async put(input: PutInput): Promise<ObjectView> {
    const versionId = newVersionId();
    let settle!: () => void;
    this.committing.set(versionId, new Promise<void>((resolve) => (settle = resolve)));
    try {
      return await this.putVersion(versionId, input);
    } finally {
      this.committing.delete(versionId);
      settle();
    }
  }

  /**
   * A finished upload's straggler copies (ReplicaWriter's lateCopies): once the upload's commit has
   * settled either way, deleted under the version's row lock (Catalogue.cleanCopies), never on a
   * node the row lists by then. Deleted at once, a straggler's copy on a node that a repair had
   * meanwhile copied the version to and listed took the repair's copy with it (the same blob id).
   * A delete that fails stays pending on the row (the lifecycle's cleanup retries it); with MariaDB
   * away, the writer logs it and the copy is left to the orphan sweep.
   */
  private async dropLateCopies(versionId: string, nodeIds: string[], requestId: RequestId): Promise<void> {
    await this.committing.get(versionId);
    const left = await this.catalogue.cleanCopies(versionId, nodeIds, (ids, stillHeld) =>
      this.writer.discard(versionId, ids, requestId, stillHeld),
    );
    if (left.length) this.log.warn({ version: versionId, nodes: left, requestId }, "a late replica's copy could not be deleted yet");
  }

  private async putVersion(versionId: string, input: PutInput): Promise<ObjectView> {
    const { bucket, key, contentType, metadata } = checkedNames(input);
    const body = new UploadBody(input.body, this.opts.maxObjectSize, input.contentLength);
    const { requestId } = input;
    const { replicas, digest, small } = await this.storeBlob(bucket, key, versionId, body, requestId, input);

    const etag = input.etag ?? digest.etag;
    const v: NewVersion = {
      versionId,
      bucket,
      key,
      size: body.size,
      sha256: digest.sha256.toString("hex"),
      etag,
      contentType,
      metadata,
      replicas,
      createdMs: Date.now(),
    };
    try {
      await input.confirmEnd?.();
      if (input.signal?.aborted) throw new AbortedError("the client cancelled the upload");
    } catch (e) {
      await this.writer.discard(versionId, replicas, requestId);
      throw e;
    }
    return this.commitVersion(v, requestId, small, input.completes);
  }

  /**
   * A multipart Complete's object made by the nodes themselves (rpc/server/compose-blob.ts): each of
   * the key's first R live nodes writes the new version's blob from its own copies of the parts,
   * so no byte crosses a socket and the coordinator hashes nothing (copying them through the
   * coordinator took 2.4-2.7 s of an aws cli upload's 5.8-6.6 s for 256 MiB). Only when every such
   * node holds a copy of every part, the object is large (a small one is a segment record, not a
   * file) and there are R of them; the nodes must agree on the sha256 they computed. At least the
   * write quorum of composed copies commits, as an upload's would (fewer than R are repaired);
   * below it, or on any disagreement, nothing is kept and the answer is null: the caller copies
   * the bytes itself (`put` with the parts as its body), which also reads past a damaged copy.
   */
  async putComposed(input: ComposedInput): Promise<ObjectView | null> {
    const { bucket, key, contentType, metadata } = checkedNames(input);
    const { parts, requestId } = input;
    const size = parts.reduce((n, p) => n + p.size, 0);
    if (size <= this.opts.chunkSize) return null;
    const targets = this.placement.targets(bucket, key, this.opts.replicas);
    if (targets.length < this.opts.replicas || !parts.every((p) => targets.every((t) => p.replicas.includes(t)))) return null;
    const versionId = newVersionId();
    const wire = parts.map((p) => ({ blobId: p.blobId, size: p.size, sha256: Buffer.from(p.sha256, "hex") }));
    const tries = await Promise.allSettled(targets.map((t) => this.nodes.client(t).composeBlob(versionId, {}, wire, requestId)));
    const made = targets.filter((_, i) => tries[i].status === "fulfilled");
    const metas = tries.flatMap((t) => (t.status === "fulfilled" ? [t.value] : []));
    const sha256 = metas[0]?.sha256;
    const agreed = metas.every((m) => m.size === size && m.sha256.equals(sha256!));
    if (made.length < this.opts.writeQuorum || !agreed) {
      const why = tries.flatMap((t) => (t.status === "rejected" ? [(t.reason as Error).message] : []));
      this.log.warn(
        { requestId, versionId, composed: made, failed: why, agreed },
        "the nodes could not compose a multipart object; copying its parts instead",
      );
      if (made.length) await this.writer.discard(versionId, made, requestId);
      return null;
    }
    const v: NewVersion = {
      versionId,
      bucket,
      key,
      size,
      sha256: sha256!.toString("hex"),
      etag: input.etag,
      contentType,
      metadata,
      replicas: made,
      createdMs: Date.now(),
    };
    return this.commitVersion(v, requestId, undefined, input.completes);
  }

  /**
   * Records a version whose copies are made, and reports it; a commit that fails discards them. A
   * multipart Complete's (`completes`) whose upload is no longer its own commits nothing: its copies
   * go (the server refused the transaction: surely not committed), and it answers Conflict.
   */
  private async commitVersion(v: NewVersion, requestId: RequestId, small?: Buffer, completes?: PutInput["completes"]): Promise<ObjectView> {
    const { versionId, replicas } = v;
    let replaced: string[] = [];
    try {
      ({ replaced } = await this.catalogue.commit(v, requestId, completes));
    } catch (e) {
      if (isTakenOver(e)) {
        await this.writer.discard(versionId, replicas, requestId);
        throw new MiniS3Error(
          ErrorCode.Conflict,
          `multipart upload ${completes?.uploadId} was taken over or aborted: this Complete made nothing`,
        );
      }
      if (!(await committedDespiteError(this.failedCommits, versionId, replicas, e, requestId))) {
        throw new MiniS3Error(ErrorCode.CatalogueUnavailable, "the catalogue could not record the upload");
      }
    }
    // Committed: these are version `versionId`'s bytes for good (what was digested and sent).
    if (small) this.bodies?.put(versionId, small);
    this.events.committed(v, replaced, requestId);
    if (replicas.length < this.opts.replicas) this.events.underReplicated(versionId, requestId);
    return {
      bucket: v.bucket,
      key: v.key,
      versionId,
      size: v.size,
      sha256: v.sha256,
      etag: v.etag,
      contentType: v.contentType,
      tier: "hot",
      createdAtMs: v.createdMs,
      lastAccessedAtMs: v.createdMs,
      replicas,
      metadata: v.metadata,
    };
  }

  /**
   * Stores a body's bytes as blob `blobId` on the first live nodes of (bucket, key)'s preference
   * list, with the write quorum, and answers where they are and their digests; nothing commits
   * them to the catalogue. The body is read up to one chunk: one that ends within it is small and
   * travels whole (falling over past failed nodes), a longer one streams to all replicas at once.
   * An upload's bytes, and a multipart upload's parts (multipart-store.ts), go this way. A small
   * body is handed back as `small` too (the upload's own buffer, not a copy).
   */
  async storeBlob(
    bucket: string,
    key: string,
    blobId: string,
    body: UploadBody,
    requestId: RequestId,
    expected: ExpectedDigests = {},
  ): Promise<{ replicas: string[]; digest: UploadDigest; small?: Buffer }> {
    // Short of reachable nodes (one restarting as another is killed), the write waits a little for one to return.
    const until = this.nodes.returnDeadline();
    let targets = this.placement.targets(bucket, key, Number.MAX_SAFE_INTEGER);
    while (targets.length < this.opts.writeQuorum && (await this.nodes.untilReturn(until))) {
      targets = this.placement.targets(bucket, key, Number.MAX_SAFE_INTEGER);
    }
    if (targets.length < this.opts.writeQuorum) {
      body.cancel();
      throw new MiniS3Error(
        ErrorCode.NotEnoughNodes,
        `${targets.length} storage nodes reachable; ${this.opts.writeQuorum} needed to accept a write`,
      );
    }
    // Room for its head (what it declares, up to a chunk) before any byte of it is read.
    const room = await cancelledIfRefused(
      body,
      this.uploadBuffer?.take(Math.min(body.declared ?? this.opts.chunkSize, this.opts.chunkSize)),
    );
    try {
      const { head, headBytes, more } = await this.readHead(body);
      if (more) return await this.storeLarge(bucket, key, blobId, head, body, targets, requestId, expected, room);
      // One piece (most small bodies) is the body as it is: concat would copy it into a new Buffer.
      const data = head.length === 1 ? head[0] : Buffer.concat(head, headBytes);
      if (head.length > 1) for (const piece of head) freeBodyPiece(piece); // copied into data: freed now, not at V8's next collection
      return await this.storeSmall(bucket, key, blobId, data, targets, until, requestId, expected);
    } finally {
      room?.release();
    }
  }

  /** The body's first pieces, up to just past a chunk; `more` when the body goes on past them (a large one). */
  private async readHead(body: UploadBody): Promise<{ head: Buffer[]; headBytes: number; more: boolean }> {
    const head: Buffer[] = [];
    let headBytes = 0;
    let piece: Buffer | null = null;
    while (headBytes <= this.opts.chunkSize && (piece = await body.next()) !== null) {
      head.push(piece);
      headBytes += piece.length;
    }
    return { head, headBytes, more: piece !== null };
  }

  /** A large body, streamed to its replicas once it has its turn among the large uploads streaming. */
  private async storeLarge(
    bucket: string,
    key: string,
    blobId: string,
    head: Buffer[],
    body: UploadBody,
    targets: string[],
    requestId: RequestId,
    expected: ExpectedDigests,
    room: BufferRoom | undefined,
  ): Promise<{ replicas: string[]; digest: UploadDigest }> {
    // Its turn (the head read so far is all it holds meanwhile).
    const turn = await cancelledIfRefused(body, this.largeUploads?.enter());
    // Streaming, its memory is the gate's to bound: the head's room goes to the uploads being received.
    room?.release();
    try {
      // The first R live nodes of the key's preference list; the rest of the list, live or not, stands by.
      const chosen = targets.slice(0, this.opts.replicas);
      const spares = this.placement.spares(bucket, key, chosen);
      const stored = await this.putLarge(blobId, head, body, chosen, spares, requestId, turn);
      const mismatch = mismatchOf(stored.digest, expected);
      if (mismatch) {
        await this.writer.discard(blobId, stored.replicas, requestId);
        throw mismatch;
      }
      return stored;
    } finally {
      turn?.leave();
    }
  }

  /** A small body, whole to `replicas` nodes of the key's live preference list, falling over past failures. */
  private async storeSmall(
    bucket: string,
    key: string,
    blobId: string,
    data: Buffer,
    targets: string[],
    until: number,
    requestId: RequestId,
    expected: ExpectedDigests,
  ): Promise<{ replicas: string[]; digest: UploadDigest; small: Buffer }> {
    const digest = digestOf(data);
    const mismatch = mismatchOf(digest, expected);
    if (mismatch) throw mismatch;
    // Too few nodes took it (the others unreachable): again on the live nodes once one returns.
    const replicas = await this.nodes.asNodesReturn(
      (tried) => {
        const live = tried ? this.placement.targets(bucket, key, Number.MAX_SAFE_INTEGER) : targets;
        return this.writer.putSmall(blobId, data, digest, live, this.opts.replicas, this.opts.writeQuorum, undefined, requestId);
      },
      (e) => hasCode(e, ErrorCode.QuorumNotReached),
      until,
    );
    return { replicas, digest, small: data };
  }

  /**
   * Streams a body to all its replicas at once in chunks of exactly UPLOAD_CHUNK_BYTES (or chunkSize,
   * if larger), while the digest thread hashes them. One chunk is sent while the next is read from
   * the client: waiting for the replicas before reading on made intake and sending take turns
   * (a 64 MiB upload, 2026-12-02: ~160 ms waiting for the client's bytes plus ~280 ms for the
   * replicas and the thread, in sequence). Memory: one chunk more per upload.
   */
  private async putLarge(
    versionId: string,
    head: Buffer[],
    body: UploadBody,
    targets: string[],
    spares: string[],
    requestId: RequestId,
    turn?: UploadTurn,
  ): Promise<{ replicas: string[]; digest: UploadDigest }> {
    // A target that cannot be reached, or fails early, is replaced by the next live spare.
    // The replicas check the bytes by the fold of their block crc32s from the digest thread.
    const upload = this.writer.startLarge(versionId, targets, this.opts.writeQuorum, undefined, spares, requestId, "blockCrc");
    const hashing = this.digests.start();
    const size = Math.max(this.opts.chunkSize, UPLOAD_CHUNK_BYTES);
    // The chunk on its way; its failure surfaces when the next one is sent, or at the end.
    let sending: Promise<unknown> | undefined;
    // Whole chunks the replicas and the digest thread are done with, refilled by the next joins
    // (two alternate once the writer stops keeping chunks for a replacement). A fresh Buffer per
    // chunk was external memory that brought V8's next mark-compact closer (2026-12-02).
    const spare: Buffer[] = [];
    // Every whole chunk this upload joined into: the pool's again once the upload has settled.
    const joined = new Set<Buffer>();
    const send = async (parts: Buffer[], bytes: number) => {
      const chunk = joinAsChunk(parts, bytes, bytes === size ? (spare.pop() ?? this.chunks.take()) : undefined);
      if (chunk.length === size) joined.add(chunk);
      if (sending) await sending;
      sending = Promise.all([upload.write(chunk), hashing.update(chunk)]).then(([refill]) => {
        if (refill && chunk.length === size) spare.push(chunk);
      });
      sending.catch(() => undefined); // awaited above or below; meanwhile not an unhandled rejection
    };
    try {
      let parts: Buffer[] = [];
      let bytes = 0;
      // The body's pieces whose bytes wait in `parts`: freed once a join has copied the last of them.
      let held: Buffer[] = [];
      // The client's bytes through the upload's turn, which counts them (a slow client gives its turn up).
      const next = () => head.shift() ?? (turn ? turn.pull(body.next()) : body.next());
      for (let piece: Buffer | null = await next(); piece !== null; piece = await next()) {
        const whole = piece;
        while (bytes + piece.length >= size) {
          const take = size - bytes;
          parts.push(piece.subarray(0, take));
          await send(parts, size);
          for (const h of held) freeBodyPiece(h);
          held = [];
          parts = [];
          bytes = 0;
          piece = piece.subarray(take);
        }
        if (piece.length > 0) {
          parts.push(piece);
          bytes += piece.length;
          held.push(whole);
        } else freeBodyPiece(whole);
      }
      if (bytes > 0) await send(parts, bytes);
      for (const h of held) freeBodyPiece(h);
      if (sending) await sending;
      const digest = await hashing.finish();
      const replicas = await upload.finish(body.size, digest.sha256, digest.blockCrc);
      // A failed upload's chunks are left to V8: an aborted replica's write may still hold one.
      void upload.settled().then(() => this.chunks.give(joined));
      return { replicas, digest };
    } catch (e) {
      upload.abort();
      hashing.cancel();
      body.cancel();
      throw e;
    }
  }

  async get(bucket: string, key: string, range: ByteRange | undefined, requestId: RequestId): Promise<GetResult> {
    const b = checkBucket(bucket);
    const k = checkKey(key);
    return this.openRow(
      `${b}/${k}`,
      async (fresh) => {
        const v = await fromCatalogue(this.catalogue.current(b, k, fresh));
        if (!v) throw new NotFoundError(`no object ${b}/${k}`);
        return v;
      },
      range,
      requestId,
      (v) => {
        this.access.touch(v.versionId, v.accessedMs);
        if (v.tier === "cold") this.events.coldRead(v, requestId);
      },
    );
  }

  /**
   * Opens the bytes of the row `lookup` answers, the range resolved on that very row (so range and
   * bytes belong to one version). Bytes that just moved (a tier move or trash move committed
   * between the lookup and the read) are looked for once more on a fresh row (`fresh`: in the
   * database itself, not the cache); missing again, they are unreachable rather than absent. Bytes
   * that move while being sent (a cold read's own promotion deletes the backup copy it streams from)
   * are followed to the version's copies of that moment, and the body goes on from the same byte.
   */
  private async openRow(
    what: string,
    lookup: (fresh: boolean) => Promise<VersionRow>,
    range: ByteRange | undefined,
    requestId: RequestId,
    opened: (v: VersionRow) => void,
  ): Promise<GetResult> {
    for (let attempt = 0; ; attempt++) {
      const v = await lookup(attempt > 0);
      const { offset, length } = resolveRange(range, v.size);
      try {
        // No replica reachable (their nodes restarting): again once a node returns, for a little while.
        const relocate = async () => (await this.catalogue.version(v.versionId))?.replicas ?? [];
        const body = await this.nodes.asNodesReturn(() => this.reader.open(v, offset, length, requestId, { relocate }), bytesOutOfReach);
        opened(v);
        return { object: toObjectView(v), offset, length, servedFrom: v.tier === "cold" ? "cold" : "hot", body };
      } catch (e) {
        if (attempt === 0 && e instanceof NotFoundError) continue;
        if (e instanceof NotFoundError)
          throw new MiniS3Error(ErrorCode.BytesUnreachable, `the bytes of ${what} are not reachable right now`);
        throw e;
      }
    }
  }

  async head(bucket: string, key: string): Promise<ObjectView> {
    const b = checkBucket(bucket);
    const k = checkKey(key);
    const v = await fromCatalogue(this.catalogue.current(b, k));
    if (!v) throw new NotFoundError(`no object ${b}/${k}`);
    return this.scheduled(v);
  }

  /** The view with the version's next lifecycle move (added to it, not spread: see versions-sql.ts ownFields). */
  private scheduled(v: VersionRow): ObjectView {
    return Object.assign(toObjectView(v), { next: nextTransition(v, this.opts.hotTtlMs, this.access.lastSeen(v.versionId)) });
  }

  async delete(bucket: string, key: string, requestId: RequestId, onlyVersion?: string): Promise<DeleteResult> {
    const b = checkBucket(bucket);
    const k = checkKey(key);
    if (onlyVersion !== undefined && !VERSION_ID_RE.test(onlyVersion)) throw new NotFoundError(`no version ${onlyVersion} of ${b}/${k}`);
    const v = await fromCatalogue(this.catalogue.markDeleted(b, k, requestId, onlyVersion));
    if (!v)
      throw new NotFoundError(onlyVersion === undefined ? `no object ${b}/${k}` : `${onlyVersion} is not the visible version of ${b}/${k}`);
    this.events.deleted(v, requestId);
    return { bucket: b, key: k, versionId: v.versionId, purgeAtMs: v.purgeMs ?? 0 };
  }

  async list(bucket: string, prefix: string, limit: number, cursor: string): Promise<ListResult> {
    const b = checkBucket(bucket);
    const n = checkLimit(limit);
    const rows = await fromCatalogue(this.catalogue.list(b, prefix ?? "", keyOfCursor(cursor), n + 1));
    const page = rows.slice(0, n);
    return { objects: page.map(toObjectView), nextCursor: rows.length > n ? cursorOf(page[page.length - 1].key) : "" };
  }

  async undelete(bucket: string, key: string, requestId: RequestId, onlyVersion?: string): Promise<ObjectView> {
    const b = checkBucket(bucket);
    const k = checkKey(key);
    if (onlyVersion !== undefined && !VERSION_ID_RE.test(onlyVersion)) throw new NotFoundError(`no version ${onlyVersion} of ${b}/${k}`);
    return fromCatalogue(this.undeleter.undelete(b, k, requestId, onlyVersion));
  }

  listKeys(bucket: string, query: KeyListQuery): Promise<KeyListing> {
    return fromCatalogue(listKeys(this.catalogue, checkBucket(bucket), query));
  }

  listVersions(bucket: string, query: VersionListQuery): Promise<VersionListing> {
    return fromCatalogue(listVersions(this.catalogue, checkBucket(bucket), query));
  }

  /** A version that is live or restorable (a purge that has begun makes it gone), of this bucket and key. */
  private async versionOf(bucket: string, key: string, versionId: string): Promise<VersionRow> {
    const b = checkBucket(bucket);
    const k = checkKey(key);
    const missing = () => new NotFoundError(`no version ${versionId} of ${b}/${k}`);
    if (!VERSION_ID_RE.test(versionId)) throw missing();
    const v = await fromCatalogue(this.catalogue.version(versionId));
    if (!v || v.bucket !== b || v.key !== k || v.state === "purging") throw missing();
    if (v.state === "trash" && (v.purgeMs ?? 0) <= (await fromCatalogue(this.catalogue.clock.now()))) throw missing();
    return v;
  }

  async headVersion(bucket: string, key: string, versionId: string): Promise<ObjectView> {
    const v = await this.versionOf(bucket, key, versionId);
    const view = this.scheduled(v);
    if (v.state === "trash" && v.reason !== null) view.trashed = v.reason;
    return view;
  }

  async getVersion(bucket: string, key: string, versionId: string, range: ByteRange | undefined, requestId: RequestId): Promise<GetResult> {
    // A trashed version's bytes may be on the delete node or (its move pending) still in its tier.
    return this.openRow(
      `version ${versionId}`,
      () => this.versionOf(bucket, key, versionId),
      range,
      requestId,
      (v) => {
        if (v.state === "live") this.access.touch(v.versionId, v.accessedMs);
      },
    );
  }

  async listTrash(bucket: string, prefix: string, limit: number, cursor: string): Promise<TrashListResult> {
    const b = checkBucket(bucket);
    const n = checkLimit(limit);
    const rows = await fromCatalogue(
      this.catalogue.clock.now().then((now) => this.catalogue.listTrash(b, prefix ?? "", now, cursor ?? "", n + 1)),
    );
    const page = rows.slice(0, n);
    return {
      entries: page.map((v: VersionRow) => ({
        object: toObjectView(v),
        deletedAtMs: v.deletedMs ?? 0,
        purgeAtMs: v.purgeMs ?? 0,
        reason: v.reason ?? "deleted",
      })),
      nextCursor: rows.length > n ? page[page.length - 1].versionId : "",
    };
  }
}

function checkLimit(limit: number): number {
  if (!limit) return 1000;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new InvalidArgumentError("limit must be 1..1000");
  return limit;
}

/**
 * A catalogue call whose failure because MariaDB is away (refused, lost, no answer in time) means
 * "try again later" to the client (CatalogueUnavailable: 503 / UNAVAILABLE), not a bug (500).
 */
export async function fromCatalogue<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    if (isMiniS3Error(e) || !isDatabaseUnavailable(e)) throw e;
    throw new MiniS3Error(ErrorCode.CatalogueUnavailable, `the catalogue did not answer: ${(e as Error).message}`);
  }
}

/** What an upload waits for before its body is read (room, a turn); refused, the body is cancelled unread. */
async function cancelledIfRefused<T>(body: UploadBody, wait: Promise<T> | undefined): Promise<T | undefined> {
  try {
    return await wait;
  } catch (e) {
    body.cancel();
    throw e;
  }
}

/** What an upload's digest earns against the digests its client sent (none: undefined, the usual case). */
function mismatchOf(digest: UploadDigest, expected: ExpectedDigests): MiniS3Error | undefined {
  return digestMismatch(expected, { sha256: () => digest.sha256.toString("hex"), md5: digest.etag });
}
