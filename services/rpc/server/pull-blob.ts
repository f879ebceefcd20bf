import { AbortedError, ErrorCode, IntegrityError, InvalidArgumentError, MiniS3Error } from "../../common/errors";
import type { RequestId } from "../../common/request-context";
import type { BlobBackend, BlobMeta, BlobReader } from "../blob-backend";
import { isValidBlobId } from "../blob-info";
import { BlobHttpClient } from "../client/blob-http-client";
import { NODE_CALL_LIMITS } from "../client/node-client";

/** A node that holds the blob, as the caller lists it. */
export interface PullSource {
  nodeId: string;
  address: string;
}

/** What a pull asks for: the new copy and the version's size and sha256 its sources must name. */
export interface PullRequest {
  blobId: string;
  attributes: Record<string, string>;
  size: number;
  sha256: Buffer;
  sources: readonly PullSource[];
}

/** Reads a whole blob from another node's blob plane (client/blob-http-client.ts, made per source). */
export type SourceReader = (source: PullSource) => {
  read(blobId: string, offset: number, length: undefined, requestId?: RequestId): Promise<BlobReader>;
};

/**
 * Writes a copy of a blob that other nodes hold, read from the first of `sources` that serves it:
 * a large version's move between tiers (or its repair) made node to node, instead of read by the
 * coordinator from one node and written by it to another (~110 ms of the coordinator's CPU per
 * 64 MiB trash move, perf 2026-12-06). The source's copy must name the size and sha256 asked for;
 * its bytes are checked at the commit by the fold of the source's block crc32s when it sends one
 * (every block was checked against that table as it was read, so a byte changed on the way fails),
 * else by their sha256. A source that fails (unreachable, missing, corrupt, cut mid-stream) leaves
 * nothing and the next one is tried from the start. When all failed: IntegrityError if every source's
 * copy was refused, else BytesUnreachable (the caller, which may reach them, streams the copy
 * itself). A failure of this node's own store (its disk, a full one) is the answer at once: another
 * source would not help. Nothing is left on a failure; the copy is visible once committed, named by
 * no row until the caller's commit (the orphan sweep takes it if that never comes).
 */
export async function pullBlob(
  backend: BlobBackend,
  req: PullRequest,
  sourceReader: SourceReader,
  requestId?: RequestId,
  signal?: AbortSignal,
): Promise<BlobMeta> {
  if (!isValidBlobId(req.blobId)) throw new InvalidArgumentError(`bad blob id "${req.blobId}"`);
  if (req.sha256.length !== 32) throw new InvalidArgumentError(`a pull of ${req.blobId} names no sha256`);
  if (req.sources.length === 0) throw new InvalidArgumentError(`a pull of ${req.blobId} names no source`);
  let refused: IntegrityError | undefined;
  let other: unknown;
  for (const source of req.sources) {
    if (signal?.aborted) throw new AbortedError(`the pull of ${req.blobId} was cancelled`);
    try {
      return await pullFrom(backend, req, sourceReader(source), source, requestId, signal);
    } catch (e) {
      if (e instanceof OwnStoreFailure) throw e.cause;
      if (e instanceof AbortedError || e instanceof InvalidArgumentError) throw e;
      if (e instanceof IntegrityError) refused = e;
      else other = e;
    }
  }
  if (other === undefined && refused) throw refused;
  const why = other instanceof Error ? other.message : String(other);
  throw new MiniS3Error(ErrorCode.BytesUnreachable, `no source of ${req.blobId} could be read from this node (${why})`);
}

async function pullFrom(
  backend: BlobBackend,
  req: PullRequest,
  client: ReturnType<SourceReader>,
  source: PullSource,
  requestId: RequestId | undefined,
  signal: AbortSignal | undefined,
): Promise<BlobMeta> {
  const read = await client.read(req.blobId, 0, undefined, requestId);
  const it = read.chunks[Symbol.asyncIterator]();
  try {
    if (read.meta.size !== req.size || !read.meta.sha256.equals(req.sha256))
      throw new IntegrityError(`the copy of ${req.blobId} on ${source.nodeId} is not the blob named (its size or sha256 differs)`);
    const writer = await ownStore(backend.beginWrite(req.blobId, req.attributes, read.blockCrc === undefined ? "sha256" : "blockCrc"));
    try {
      for (;;) {
        if (signal?.aborted) throw new AbortedError(`the pull of ${req.blobId} was cancelled`);
        const r = await it.next();
        if (r.done) break;
        await ownStore(writer.write(r.value));
        // Written (a BlobWriter keeps no reference once its write resolved): the reader may refill it.
        read.recycle?.(r.value);
      }
      // A commit refused as IntegrityError is the bytes' (the source's, or the way): the next source may do.
      return await ownStore(writer.commit(req.size, req.sha256, read.blockCrc));
    } catch (e) {
      await writer.abort().catch(() => undefined);
      throw e;
    }
  } finally {
    await it.return?.();
  }
}

/** A failure of this node's own store, which no other source would avoid. */
class OwnStoreFailure extends Error {
  constructor(readonly cause: unknown) {
    super("the node's own store failed");
  }
}

/** `op` on this node's store: its failures (but the bytes' IntegrityError) marked as the store's own. */
async function ownStore<T>(op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (e) {
    throw e instanceof IntegrityError || e instanceof AbortedError ? e : new OwnStoreFailure(e);
  }
}

/**
 * The blob-plane clients a node reads other nodes' copies with, one per source address, kept while
 * the node serves (their kept-alive connections are reused by the next pull from the same node).
 * They wait for a source as the coordinator's NodeClient waits for a node (NODE_CALL_LIMITS).
 */
export class PeerReaders {
  private readonly clients = new Map<string, BlobHttpClient>();

  constructor(private readonly clusterSecret: string | undefined) {}

  readonly reader: SourceReader = (source) => {
    const key = `${source.nodeId}@${source.address}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new BlobHttpClient(source.nodeId, source.address, { ...NODE_CALL_LIMITS, clusterSecret: this.clusterSecret });
      this.clients.set(key, c);
    }
    return c;
  };

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
