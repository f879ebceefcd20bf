// A test double of OUR ObjectEngine (services/coordinator/objects/object-engine.ts) and ClusterAdmin
// (services/coordinator/admin/cluster-admin.ts), in memory, so the client-facing APIs can be tested
// before the real engine exists. It keeps the contract's observable rules (size limit, declared
// length, trash on delete/overwrite) and records what the APIs did to it (failed puts, cancelled
// reads) so tests can assert on them.
import { createHash } from "node:crypto";
import { newVersionId } from "../../../common/ids";
import { ErrorCode, InvalidArgumentError, MiniS3Error, NotFoundError, TooLargeError } from "../../../common/errors";
import {
  NO_SCRUB,
  type ClusterAdmin,
  type ClusterStatusView,
  type HealthView,
  type ReadinessView,
  type UpcomingTransition,
} from "../../admin/cluster-admin";
import { resolveRange } from "../../objects/byte-range";
import { checkBucket, checkKey } from "../../objects/names";
import type {
  ByteRange,
  DeleteResult,
  GetResult,
  KeyListing,
  ListResult,
  ObjectEngine,
  ObjectView,
  PutInput,
  TrashListResult,
  TrashEntryView,
  VersionListing,
} from "../../objects/object-engine";
import { digestMismatch } from "../../objects/object-engine";

interface StoredObject {
  view: ObjectView;
  data: Buffer;
}

interface StoredTrash extends StoredObject {
  deletedAtMs: number;
  purgeAtMs: number;
  reason: "deleted" | "overwritten";
}

/** The hot TTL its upcoming demotions are shown with (it demotes nothing). */
const HOT_TTL_MS = 3_600_000;

export interface MemoryEngineOptions {
  maxObjectSize?: number;
  /** Bytes per chunk that get() yields. */
  readChunkSize?: number;
  trashRetentionMs?: number;
}

export class MemoryObjectEngine implements ObjectEngine, ClusterAdmin {
  readonly objects = new Map<string, StoredObject>();
  readonly trash: StoredTrash[] = [];
  /** Every error a put() ended with, in order: the API must surface client aborts here. */
  readonly putErrors: unknown[] = [];
  /** Reads whose body iterator was closed (return()) before reaching the end. */
  cancelledReads = 0;
  /** Reads whose body is being iterated right now. */
  openReads = 0;
  /** Body bytes put() has pulled so far, finished or not. */
  bytesReceived = 0;
  healthy = true;
  /** When set, put() waits on this before pulling each chunk (a slow engine: the upload backs up). */
  beforeEachPutChunk?: () => Promise<void>;
  /** When set, get() bodies wait on this before each chunk (lets tests hold a read open). */
  beforeEachReadChunk?: () => Promise<void>;
  /** When set, called right after every catalogue-like lookup (head, get, delete): a race's hook. */
  afterLookup?: (view: ObjectView) => void;

  /** Bytes per chunk that get() yields; tests may change it. */
  readChunkSize: number;
  private readonly maxObjectSize: number;
  private readonly trashRetentionMs: number;

  constructor(opts: MemoryEngineOptions = {}) {
    this.maxObjectSize = opts.maxObjectSize ?? 64 * 1024 * 1024;
    this.readChunkSize = opts.readChunkSize ?? 64 * 1024;
    this.trashRetentionMs = opts.trashRetentionMs ?? 86_400_000;
  }

  async put(input: PutInput): Promise<ObjectView> {
    try {
      return await this.doPut(input);
    } catch (e) {
      this.putErrors.push(e);
      throw e;
    }
  }

  private async doPut(input: PutInput): Promise<ObjectView> {
    const bucket = checkBucket(input.bucket);
    const key = checkKey(input.key);
    if (input.contentLength !== undefined && input.contentLength > this.maxObjectSize) {
      throw new TooLargeError(`object of ${input.contentLength} bytes exceeds ${this.maxObjectSize}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const body = input.body[Symbol.asyncIterator]();
    for (;;) {
      if (this.beforeEachPutChunk) await this.beforeEachPutChunk();
      const next = await body.next();
      if (next.done) break;
      const chunk = next.value;
      size += chunk.length;
      this.bytesReceived += chunk.length;
      if (size > this.maxObjectSize) throw new TooLargeError(`object exceeds ${this.maxObjectSize} bytes`);
      chunks.push(chunk);
    }
    if (input.contentLength !== undefined && size !== input.contentLength) {
      throw new InvalidArgumentError(`declared ${input.contentLength} bytes, received ${size}`);
    }
    const data = Buffer.concat(chunks);
    const mismatch = digestMismatch(input, {
      sha256: () => createHash("sha256").update(data).digest("hex"),
      md5: createHash("md5").update(data).digest("hex"),
    });
    if (mismatch) throw mismatch;
    return this.store(bucket, key, data, input.contentType, input.metadata);
  }

  /** Commits a new version at once, synchronously: a test's overwrite that lands between two awaits. */
  store(bucket: string, key: string, data: Buffer, contentType = "", metadata: Record<string, string> = {}): ObjectView {
    const now = Date.now();
    const view: ObjectView = {
      bucket,
      key,
      versionId: newVersionId(now),
      size: data.length,
      sha256: createHash("sha256").update(data).digest("hex"),
      etag: createHash("md5").update(data).digest("hex"),
      contentType: contentType || "application/octet-stream",
      tier: "hot",
      createdAtMs: now,
      lastAccessedAtMs: now,
      replicas: ["mem-1", "mem-2"],
      metadata: { ...metadata },
    };
    const id = objectId(bucket, key);
    const previous = this.objects.get(id);
    if (previous) this.toTrash(previous, "overwritten");
    this.objects.set(id, { view, data });
    return view;
  }

  async get(bucket: string, key: string, range?: ByteRange): Promise<GetResult> {
    const stored = this.lookup(bucket, key);
    const { offset, length } = resolveRange(range, stored.data.length);
    stored.view.lastAccessedAtMs = Date.now();
    return {
      object: { ...stored.view },
      offset,
      length,
      servedFrom: stored.view.tier,
      body: this.readBody(stored.data.subarray(offset, offset + length)),
    };
  }

  private async *readBody(bytes: Buffer): AsyncGenerator<Buffer> {
    this.openReads++;
    let finished = false;
    try {
      for (let at = 0; at < bytes.length; at += this.readChunkSize) {
        if (this.beforeEachReadChunk) await this.beforeEachReadChunk();
        yield bytes.subarray(at, at + this.readChunkSize);
      }
      finished = true;
    } finally {
      this.openReads--;
      if (!finished) this.cancelledReads++;
    }
  }

  async head(bucket: string, key: string): Promise<ObjectView> {
    return { ...this.lookup(bucket, key).view };
  }

  async delete(bucket: string, key: string, _requestId?: string, onlyVersion?: string): Promise<DeleteResult> {
    const stored = this.lookup(bucket, key);
    if (onlyVersion !== undefined && stored.view.versionId !== onlyVersion) {
      throw new NotFoundError(`${onlyVersion} is not the visible version of ${bucket}/${key}`);
    }
    this.objects.delete(objectId(stored.view.bucket, stored.view.key));
    const entry = this.toTrash(stored, "deleted");
    return { bucket: stored.view.bucket, key: stored.view.key, versionId: stored.view.versionId, purgeAtMs: entry.purgeAtMs };
  }

  async list(bucket: string, prefix: string, limit: number, cursor: string): Promise<ListResult> {
    const b = checkBucket(bucket);
    const views = [...this.objects.values()]
      .map((o) => o.view)
      .filter((v) => v.bucket === b && v.key.startsWith(prefix) && (cursor === "" || v.key > cursor))
      .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    const page = views.slice(0, limit);
    return { objects: page, nextCursor: views.length > limit ? page[page.length - 1].key : "" };
  }

  // The S3 door's listings and version reads run against real clusters (test/integration/s3-*).
  async listKeys(): Promise<KeyListing> {
    throw new MiniS3Error(ErrorCode.Internal, "listKeys: not in the memory engine");
  }

  async listVersions(): Promise<VersionListing> {
    throw new MiniS3Error(ErrorCode.Internal, "listVersions: not in the memory engine");
  }

  async getVersion(): Promise<GetResult> {
    throw new MiniS3Error(ErrorCode.Internal, "getVersion: not in the memory engine");
  }

  async headVersion(): Promise<ObjectView> {
    throw new MiniS3Error(ErrorCode.Internal, "headVersion: not in the memory engine");
  }

  async undelete(bucket: string, key: string, _requestId?: string, onlyVersion?: string): Promise<ObjectView> {
    const b = checkBucket(bucket);
    const k = checkKey(key);
    for (let i = this.trash.length - 1; i >= 0; i--) {
      const t = this.trash[i];
      if (t.view.bucket !== b || t.view.key !== k) continue;
      if (onlyVersion !== undefined && (t.view.versionId !== onlyVersion || t.reason !== "deleted" || this.objects.has(objectId(b, k))))
        break;
      this.trash.splice(i, 1);
      const current = this.objects.get(objectId(b, k));
      if (current) this.toTrash(current, "overwritten");
      this.objects.set(objectId(b, k), { view: t.view, data: t.data });
      return { ...t.view };
    }
    throw new NotFoundError(`no deleted version of ${b}/${k} in the trash`);
  }

  async listTrash(bucket: string, prefix: string, limit: number, cursor: string): Promise<TrashListResult> {
    const b = checkBucket(bucket);
    // The cursor is the index of the next entry: good enough for a test double.
    const start = cursor === "" ? 0 : Number(cursor);
    const matching = this.trash.filter((t) => t.view.bucket === b && t.view.key.startsWith(prefix));
    const page = matching.slice(start, start + limit);
    const entries: TrashEntryView[] = page.map((t) => ({
      object: { ...t.view },
      deletedAtMs: t.deletedAtMs,
      purgeAtMs: t.purgeAtMs,
      reason: t.reason,
    }));
    return { entries, nextCursor: start + limit < matching.length ? String(start + limit) : "" };
  }

  async status(): Promise<ClusterStatusView> {
    let bytes = 0;
    for (const o of this.objects.values()) bytes += o.data.length;
    return {
      nodes: [
        {
          id: "mem-1",
          kind: "storage",
          address: "memory",
          zone: "local",
          metricsPort: null,
          state: "up",
          live: true,
          heartbeatAtMs: Date.now(),
          silentForMs: 0,
          blobCount: this.objects.size,
          usedBytes: bytes,
          freeBytes: 1 << 30,
        },
      ],
      tiers: [{ tier: "hot", objects: this.objects.size, bytes }],
      queues: [{ name: "lifecycle", waiting: 0, delayed: 0, active: 0, failed: 0 }],
      coordinators: [
        { id: "memory", address: "memory", self: true, state: "up", lastBeatAtMs: Date.now(), silentForMs: 0, pid: process.pid },
      ],
      readCache: { enabled: false, rows: 0 },
      scrub: NO_SCRUB,
    };
  }

  async health(): Promise<HealthView> {
    if (!this.healthy) return { ok: false, liveStorageNodes: 0, writeQuorum: 2 };
    return { ok: true, liveStorageNodes: 2, writeQuorum: 2 };
  }

  async readiness(): Promise<ReadinessView> {
    return readinessOf(this.healthy);
  }

  transitions(): [] {
    return [];
  }

  /** Its objects' demotions, one hot TTL after their last read (it moves nothing itself). */
  async upcoming(limit: number): Promise<UpcomingTransition[]> {
    return [...this.objects.values()]
      .map(({ view: v }) => ({
        transition: "demote" as const,
        dueAtMs: v.lastAccessedAtMs + HOT_TTL_MS,
        bucket: v.bucket,
        key: v.key,
        versionId: v.versionId,
        size: v.size,
        tier: v.tier,
      }))
      .sort((a, b) => a.dueAtMs - b.dueAtMs)
      .slice(0, limit);
  }

  async retireNode(id: string): Promise<never> {
    throw new InvalidArgumentError(`node ${id} is live: stop it before retiring it`);
  }

  /** One storage node, never removable: the last one would leave fewer than R. */
  async removeNode(id: string): Promise<never> {
    if (id !== "mem-1") throw new MiniS3Error(ErrorCode.NoSuchNode, `no node ${id} is registered`);
    throw new MiniS3Error(
      ErrorCode.Conflict,
      `removing ${id} would leave 0 storage node(s), fewer than MINIS3_REPLICAS=2: add a node first`,
    );
  }

  /** Test helper: the stored bytes of a live object, or undefined. */
  bytesOf(bucket: string, key: string): Buffer | undefined {
    return this.objects.get(objectId(bucket, key))?.data;
  }

  private lookup(bucket: string, key: string): StoredObject {
    const b = checkBucket(bucket);
    const k = checkKey(key);
    const stored = this.objects.get(objectId(b, k));
    if (!stored) throw new NotFoundError(`no object ${b}/${k}`);
    this.afterLookup?.(stored.view);
    return stored;
  }

  private toTrash(stored: StoredObject, reason: StoredTrash["reason"]): StoredTrash {
    const now = Date.now();
    const entry: StoredTrash = { ...stored, deletedAtMs: now, purgeAtMs: now + this.trashRetentionMs, reason };
    this.trash.push(entry);
    return entry;
  }
}

/** An engine whose every call fails as if the cluster were down. */
export function unavailableEngine(): ObjectEngine & ClusterAdmin {
  const fail = async (): Promise<never> => {
    throw new MiniS3Error(ErrorCode.NotEnoughNodes, "no storage nodes");
  };
  return {
    put: fail,
    get: fail,
    head: fail,
    delete: fail,
    list: fail,
    undelete: fail,
    listTrash: fail,
    listKeys: fail,
    listVersions: fail,
    getVersion: fail,
    headVersion: fail,
    status: fail,
    transitions: () => [],
    upcoming: fail,
    retireNode: fail,
    removeNode: fail,
    health: async () => ({ ok: false, liveStorageNodes: 0, writeQuorum: 2 }),
    readiness: async () => readinessOf(false),
  };
}

/** Ready with two storage nodes live, or not ready for want of them. */
function readinessOf(ok: boolean): ReadinessView {
  const checks = {
    database: { ok: true, ms: 0 },
    redis: { ok: true, ms: 0 },
    writeQuorum: { ok, liveStorageNodes: ok ? 2 : 0, writeQuorum: 2 },
  };
  return { ready: ok, failed: ok ? [] : ["writeQuorum"], checks };
}

function objectId(bucket: string, key: string): string {
  return `${bucket}\u0000${key}`;
}
