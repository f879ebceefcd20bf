import { createHash } from "node:crypto";
import { ErrorCode, InvalidArgumentError, MiniS3Error, TooLargeError } from "../../common/errors";
import { newVersionId } from "../../common/ids";
import type { Logger } from "../../common/logger";
import type { RequestId } from "../../common/request-context";
import type { Catalogue } from "../catalogue/catalogue";
import type { PartBlob, PartRow, UploadRow } from "../catalogue/multipart-sql";
import type { NodePool } from "../cluster/node-pool";
import { toObjectView, type ObjectView } from "../model/object-view";
import type { VersionRow } from "../model/version-row";
import { ReplicaReader } from "../replicas/replica-reader";
import { ReplicaWriter } from "../replicas/replica-writer";
import {
  MAX_PART_NUMBER,
  MAX_PART_SIZE,
  MIN_PART_SIZE,
  type CompletedPart,
  type CreateUploadInput,
  type ListUploadsInput,
  type MultipartEngine,
  type PartListing,
  type PartView,
  type UploadListing,
  type UploadPartCopyInput,
  type UploadPartInput,
  type UploadRef,
} from "./multipart-engine";
import { checkBucket, checkContentType, checkKey, checkMetadata } from "./names";
import type { ClientSignal, ExpectedDigests } from "./object-engine";
import type { ObjectStore } from "./object-store";
import { UploadBody } from "./upload-body";

export interface MultipartStoreOptions {
  maxObjectSize: number;
  /** Bodies up to this size travel whole on the Exchange streams (as the engine stores them). */
  chunkSize: number;
  /** All parts but the last must be at least this big (S3: 5 MiB; engine tests pass less). */
  minPartSize?: number;
  /** How long a Complete runs before another may take it over (COMPLETING_STALE_MS; tests pass less). */
  completingStaleMs?: number;
}

export interface MultipartStoreDeps {
  readonly catalogue: Catalogue;
  readonly nodes: NodePool;
  readonly log: Logger;
}

/**
 * A completed upload's row is kept this long, so a client that retries its Complete (its
 * connection broke while the object was being made) gets the same object back rather than
 * NoSuchUpload; then the next Create forgets it.
 */
const COMPLETED_KEPT_MS = 60 * 60 * 1000;
/**
 * A Complete that has not finished in this long is taken to have died with its coordinator (its
 * row stays `completing`), and another Complete may take the upload over. Copying 5 GiB, the
 * largest object, takes about a minute here; the margin covers slow nodes. state_ms is written and
 * compared on the catalogue's clock (MariaDB's, catalogue-clock.ts), never a coordinator's: one whose
 * clock ran 15 minutes ahead took over (or aborted) a Complete still running elsewhere (until
 * 2026-12-07). Were the first still alive past the margin (stalled), its commit is fenced: the
 * takeover marked a later state_ms, and the first's version commits only with its own
 * (versions-sql.ts MultipartFence).
 */
const COMPLETING_STALE_MS = 15 * 60 * 1000;
/** Completed rows forgotten per Create (a bounded DELETE on the path of a rare request). */
const FORGET_PER_CREATE = 100;

const HEX_MD5 = /^[0-9a-f]{32}$/;

/**
 * S3's multipart uploads. Each part's bytes are a blob of their own (a fresh version id) written
 * like an object's, with the write quorum, to the key's replicas (ObjectStore.storeBlob), and named
 * by a `multipart_parts` row once durable: before that row commits they are unnamed, and the orphan
 * sweep would reclaim them only after its grace. Complete has the key's nodes write the object's
 * blob from their own copies of the parts (ObjectStore.putComposed); where they cannot (a part's
 * copy elsewhere, a node down, a damaged copy), it streams the parts in order from their replicas
 * into the engine's ordinary upload (one body; the nodes check size and sha256 of the whole).
 * Either way the object is a plain version with S3's multipart ETag; then the parts go.
 */
export class MultipartStore implements MultipartEngine {
  private readonly catalogue: Catalogue;
  private readonly log: Logger;
  private readonly reader: ReplicaReader;
  private readonly writer: ReplicaWriter;
  private readonly minPartSize: number;
  private readonly completingStaleMs: number;

  constructor(
    deps: MultipartStoreDeps,
    private readonly objects: ObjectStore,
    private readonly opts: MultipartStoreOptions,
  ) {
    this.catalogue = deps.catalogue;
    this.log = deps.log;
    // No bad-replica callback: a part is no version, there is nothing for repair to do with it.
    this.reader = new ReplicaReader(deps.nodes, opts.chunkSize, this.log);
    this.writer = new ReplicaWriter(deps.nodes, this.log, { ownBlobs: true }); // parts and composes: fresh blob ids
    this.minPartSize = opts.minPartSize ?? MIN_PART_SIZE;
    this.completingStaleMs = opts.completingStaleMs ?? COMPLETING_STALE_MS;
  }

  async create(input: CreateUploadInput): Promise<UploadRef> {
    const bucket = checkBucket(input.bucket);
    const key = checkKey(input.key);
    const contentType = checkContentType(input.contentType || "application/octet-stream");
    const metadata = checkMetadata(input.metadata ?? {});
    const uploadId = newVersionId();
    const now = await this.catalogue.clock.now();
    await this.catalogue.multipart.create({ uploadId, bucket, key, contentType, metadata, createdMs: now });
    void this.catalogue.multipart
      .forgetCompleted(now - COMPLETED_KEPT_MS, FORGET_PER_CREATE)
      .catch((e) => this.log.warn({ err: e }, "could not forget completed multipart uploads"));
    return { bucket, key, uploadId };
  }

  async uploadPart(input: UploadPartInput): Promise<PartView> {
    const partNumber = checkPartNumber(input.partNumber);
    const upload = await this.openUpload(input);
    const body = new UploadBody(input.body, Math.min(MAX_PART_SIZE, this.opts.maxObjectSize), input.contentLength);
    return this.storePart(upload, partNumber, body, input.requestId, input.signal, input);
  }

  async uploadPartCopy(input: UploadPartCopyInput): Promise<PartView> {
    const partNumber = checkPartNumber(input.partNumber);
    const upload = await this.openUpload(input);
    const { bucket, key, versionId } = input.source;
    const source = await (versionId === undefined
      ? this.objects.get(bucket, key, input.range, input.requestId)
      : this.objects.getVersion(bucket, key, versionId, input.range, input.requestId));
    if (source.length > MAX_PART_SIZE) {
      await source.body[Symbol.asyncIterator]().return?.();
      throw new TooLargeError(`a part may be at most ${MAX_PART_SIZE} bytes; the source range has ${source.length}`);
    }
    return this.storePart(upload, partNumber, new UploadBody(source.body, MAX_PART_SIZE, source.length), input.requestId);
  }

  /** The part's bytes to the key's replicas, then its row; a part it replaces loses its bytes. */
  private async storePart(
    upload: UploadRow,
    partNumber: number,
    body: UploadBody,
    requestId: RequestId,
    signal?: ClientSignal,
    expected?: ExpectedDigests,
  ): Promise<PartView> {
    const blobId = newVersionId();
    const { replicas, digest } = await this.objects.storeBlob(upload.bucket, upload.key, blobId, body, requestId, expected);
    const part: PartRow = {
      uploadId: upload.uploadId,
      partNumber,
      size: body.size,
      etag: digest.etag,
      sha256: digest.sha256.toString("hex"),
      blobId,
      replicas,
      createdMs: Date.now(),
    };
    let result;
    try {
      if (signal?.aborted) throw new MiniS3Error(ErrorCode.Aborted, "the client cancelled the part");
      result = await this.catalogue.multipart.putPart(part);
    } catch (e) {
      // Not recorded, or not known to be: a commit that failed on the way back may have landed, and
      // deleting its bytes would leave a named part without them. Surely not recorded → discard;
      // unknown → keep them (unnamed, the orphan sweep takes them after its grace).
      const recorded = await this.catalogue.multipart.parts(upload.uploadId, partNumber - 1, 1).then(
        (rows) => rows.some((p) => p.blobId === blobId),
        () => undefined,
      );
      if (recorded === false) await this.writer.discard(blobId, replicas, requestId);
      throw e;
    }
    if (!result.accepted) {
      await this.writer.discard(blobId, replicas, requestId);
      throw noSuchUpload(upload.uploadId, result.state);
    }
    if (result.replaced) await this.dropBlobs([result.replaced], requestId);
    return { partNumber, size: part.size, etag: part.etag, lastModifiedMs: part.createdMs };
  }

  async complete(ref: UploadRef, listed: CompletedPart[]): Promise<ObjectView> {
    checkPartList(listed);
    const upload = await this.upload(ref);
    const now = await this.catalogue.clock.now();
    const { began, row } = await this.catalogue.multipart.beginComplete(upload.uploadId, now, now - this.completingStaleMs);
    if (!began) {
      if (row?.state === "completed") return this.completedObject(row);
      if (row?.state === "completing") {
        throw new MiniS3Error(ErrorCode.Conflict, `upload ${upload.uploadId} is being completed by another request; try again`);
      }
      throw noSuchUpload(upload.uploadId, null);
    }
    // The upload is this Complete's while its row says `completing` since `now`: a takeover or an
    // Abort changes that, and then the version's commit, which checks it, makes nothing.
    const completes = { uploadId: upload.uploadId, stateMs: now };
    let object: ObjectView;
    let stored: PartRow[];
    try {
      const checked = await this.checkParts(upload.uploadId, listed);
      stored = checked.stored;
      const { parts } = checked;
      const size = parts.reduce((n, p) => n + p.size, 0);
      if (size > this.opts.maxObjectSize) {
        throw new TooLargeError(`the parts add up to ${size} bytes; the largest object is ${this.opts.maxObjectSize}`);
      }
      const etag = multipartEtag(parts);
      const made = { bucket: upload.bucket, key: upload.key, contentType: upload.contentType, metadata: upload.metadata, etag, completes };
      object =
        (await this.objects.putComposed({ ...made, parts, requestId: ref.requestId })) ??
        (await this.objects.put({
          ...made,
          contentLength: size,
          body: this.partBytes(upload, parts, ref.requestId),
          requestId: ref.requestId,
        }));
    } catch (e) {
      return this.afterFailedComplete(upload.uploadId, now, e, ref.requestId);
    }
    // Committed, and with it the upload marked completed and its part rows gone (no row names the
    // parts now, and none could change while the upload was this Complete's): their copies go. Not
    // awaited: a copy the deletes miss is the orphan sweep's. Awaited, they were 84-100 ms of a
    // 64 MiB upload's ~500 ms Complete (16 files on two nodes, 2026-12-06).
    void this.dropBlobs(stored, ref.requestId);
    return object;
  }

  /**
   * A Complete that made no object, or does not know it did: its upload opens again if still its
   * own (marked `completing` at `stateMs`), and the error stands. Not its own any more, the row
   * answers: completed (by a takeover, or by this Complete's commit whose answer was lost) → that
   * object; taken over and still running → Conflict; aborted → NoSuchUpload. Nothing of another
   * Complete's is touched; this one's copies went with its failed commit.
   */
  private async afterFailedComplete(uploadId: string, stateMs: number, e: unknown, requestId: RequestId): Promise<ObjectView> {
    let reopened: boolean;
    try {
      reopened = await this.catalogue.multipart.reopen(uploadId, await this.catalogue.clock.now(), stateMs);
    } catch (err) {
      this.log.warn({ err, upload: uploadId, requestId }, "could not reopen a multipart upload after a failed Complete");
      throw e;
    }
    if (reopened) throw e;
    const row = await this.catalogue.multipart.upload(uploadId);
    if (row?.state === "completed") return this.completedObject(row);
    if (row) throw new MiniS3Error(ErrorCode.Conflict, `upload ${uploadId} was taken over by another Complete; try again`);
    throw noSuchUpload(uploadId, null);
  }

  async abort(ref: UploadRef): Promise<void> {
    const upload = await this.upload(ref);
    const blobs = await this.catalogue.multipart.abort(upload.uploadId, (await this.catalogue.clock.now()) - this.completingStaleMs);
    if (blobs === null) throw noSuchUpload(upload.uploadId, null);
    if (blobs === "completing") {
      throw new MiniS3Error(ErrorCode.Conflict, `upload ${upload.uploadId} is being completed; it cannot be aborted now`);
    }
    await this.dropBlobs(blobs, ref.requestId);
  }

  async listParts(ref: UploadRef, maxParts: number, partNumberMarker: number): Promise<PartListing> {
    const n = checkLimit(maxParts, "max-parts");
    if (!Number.isInteger(partNumberMarker) || partNumberMarker < 0) throw new InvalidArgumentError("part-number-marker must be 0 or more");
    const upload = await this.upload(ref);
    if (upload.state === "completed") throw noSuchUpload(upload.uploadId, upload.state);
    const rows = await this.catalogue.multipart.parts(upload.uploadId, partNumberMarker, n + 1);
    const page = rows.slice(0, n);
    return {
      bucket: upload.bucket,
      key: upload.key,
      uploadId: upload.uploadId,
      parts: page.map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag, lastModifiedMs: p.createdMs })),
      nextPartNumberMarker: page.length ? page[page.length - 1].partNumber : partNumberMarker,
      isTruncated: rows.length > n,
    };
  }

  async listUploads(input: ListUploadsInput): Promise<UploadListing> {
    const bucket = checkBucket(input.bucket);
    const n = checkLimit(input.maxUploads, "max-uploads");
    const rows = await this.catalogue.multipart.listUploads(
      bucket,
      input.prefix ?? "",
      input.keyMarker ?? "",
      input.uploadIdMarker ?? "",
      n + 1,
    );
    const page = rows.slice(0, n);
    const last = rows.length > n ? page[page.length - 1] : undefined;
    return {
      uploads: page.map((u) => ({ key: u.key, uploadId: u.uploadId, initiatedMs: u.createdMs })),
      isTruncated: last !== undefined,
      nextKeyMarker: last?.key ?? "",
      nextUploadIdMarker: last?.uploadId ?? "",
    };
  }

  /** The upload's row, if it belongs to (bucket, key); NoSuchUpload otherwise (S3 checks the key too). */
  private async upload(ref: UploadRef): Promise<UploadRow> {
    const bucket = checkBucket(ref.bucket);
    const key = checkKey(ref.key);
    const row = /^[0-9a-f]{28}$/.test(ref.uploadId ?? "") ? await this.catalogue.multipart.upload(ref.uploadId) : null;
    if (!row || row.bucket !== bucket || row.key !== key) throw noSuchUpload(ref.uploadId, null);
    return row;
  }

  /** The upload, if parts may still come (checked before any byte is stored; again when its row commits). */
  private async openUpload(ref: UploadRef): Promise<UploadRow> {
    const row = await this.upload(ref);
    if (row.state !== "open") throw noSuchUpload(row.uploadId, row.state);
    return row;
  }

  /**
   * The parts a Complete names, as stored: each must exist with that ETag, all but the last big
   * enough; and every part the upload has (`stored`: those it does not name go too).
   */
  private async checkParts(uploadId: string, listed: CompletedPart[]): Promise<{ parts: PartRow[]; stored: PartRow[] }> {
    const all = await this.catalogue.multipart.parts(uploadId, 0, MAX_PART_NUMBER);
    const stored = new Map(all.map((p) => [p.partNumber, p]));
    const parts = listed.map(({ partNumber, etag }) => {
      const part = stored.get(partNumber);
      if (!part) throw new MiniS3Error(ErrorCode.InvalidPart, `part ${partNumber} was not uploaded`);
      if (normalEtag(etag) !== part.etag) throw new MiniS3Error(ErrorCode.InvalidPart, `part ${partNumber}'s ETag is not ${etag}`);
      return part;
    });
    // Sizes once every part is known to be there: a missing part is the more useful answer.
    parts.forEach(({ partNumber, size }, i) => {
      if (i < parts.length - 1 && size < this.minPartSize) {
        throw new MiniS3Error(
          ErrorCode.EntityTooSmall,
          `part ${partNumber} has ${size} bytes; every part but the last must have at least ${this.minPartSize}`,
        );
      }
    });
    return { parts, stored: all };
  }

  /** The parts' bytes one after the other, each from its replicas (live first, resumed mid-stream). */
  private async *partBytes(upload: UploadRow, parts: PartRow[], requestId: RequestId): AsyncGenerator<Buffer> {
    for (const p of parts) {
      if (p.size === 0) continue;
      yield* await this.reader.open(partAsVersion(upload, p), 0, p.size, requestId);
    }
  }

  /** Deletes parts' copies, best effort: a copy left behind is unnamed, and the orphan sweep takes it. */
  private async dropBlobs(blobs: PartBlob[], requestId: RequestId): Promise<void> {
    await Promise.all(blobs.map((b) => this.writer.discard(b.blobId, b.replicas, requestId)));
  }

  private async completedObject(row: UploadRow): Promise<ObjectView> {
    const v = row.versionId ? await this.catalogue.version(row.versionId) : null;
    if (!v) throw noSuchUpload(row.uploadId, row.state);
    return toObjectView(v);
  }
}

/** S3's multipart ETag: the md5 of the parts' binary md5s, in order, then "-" and the part count. */
export function multipartEtag(parts: readonly Pick<PartRow, "etag">[]): string {
  const md5 = createHash("md5");
  for (const p of parts) md5.update(Buffer.from(p.etag, "hex"));
  return `${md5.digest("hex")}-${parts.length}`;
}

function checkPartNumber(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PART_NUMBER) throw new InvalidArgumentError(`part number must be 1..${MAX_PART_NUMBER}`);
  return n;
}

function checkPartList(parts: CompletedPart[]): void {
  if (!parts.length) throw new InvalidArgumentError("a Complete must name at least one part");
  parts.forEach((p, i) => {
    checkPartNumber(p.partNumber);
    if (i > 0 && p.partNumber <= parts[i - 1].partNumber) {
      throw new MiniS3Error(ErrorCode.InvalidPartOrder, "the parts must be listed in ascending part-number order, each once");
    }
  });
}

function checkLimit(n: number, name: string): number {
  if (!n) return 1000;
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be 1..1000`);
  return Math.min(n, 1000); // S3 caps rather than refuses
}

/** A client's ETag as the rows keep it: quotes off, lower case. */
function normalEtag(etag: string): string {
  const e = etag
    .trim()
    .replace(/^"(.*)"$/, "$1")
    .toLowerCase();
  return HEX_MD5.test(e) ? e : "";
}

function noSuchUpload(uploadId: string, state: string | null): MiniS3Error {
  const why = state === "completed" ? " (it was completed)" : state === "completing" ? " (it is being completed)" : "";
  return new MiniS3Error(ErrorCode.NoSuchUpload, `no multipart upload ${uploadId}${why}`);
}

/** A part's blob as the replica reader reads a version: its id, size, sha256 and copies. */
function partAsVersion(upload: UploadRow, p: PartRow): VersionRow {
  return {
    versionId: p.blobId,
    bucket: upload.bucket,
    key: upload.key,
    size: p.size,
    sha256: p.sha256,
    etag: p.etag,
    contentType: upload.contentType,
    metadata: {},
    state: "live",
    tier: "hot",
    replicas: p.replicas,
    cleanup: [],
    createdMs: p.createdMs,
    accessedMs: p.createdMs,
    deletedMs: null,
    purgeMs: null,
    reason: null,
    gen: 0,
    requestId: null,
  };
}
