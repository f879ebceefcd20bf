import type { NodeKind, NodeStats } from "../membership/node-record";

/** What a node knows of one blob. Blobs are immutable; blobId is the object version id. */
export interface BlobMeta {
  blobId: string;
  size: number;
  sha256: Buffer; // 32 bytes
  storedAtMs: number;
  attributes: Record<string, string>;
}

/**
 * How a writer checks the bytes it got against the sender's at commit: "sha256" hashes them (the
 * default); "blockCrc" folds their block crc32s (rpc/block-checksums.ts) and compares that with the
 * sender's, and keeps the sender's sha256 as given (a large upload over the blob plane: the node
 * computes the block crc32s for its file anyway, and the sha256 was ~0.6 ms of CPU per MiB per copy).
 * A backend without block checksums may ignore it and check the sha256, which is always sent.
 */
export type WireCheck = "sha256" | "blockCrc";

/**
 * An open write. The node service calls write() for each chunk (awaiting it is the backpressure),
 * then commit() with the size and sha256 the sender computed (and, for a "blockCrc" write, the fold
 * of its block crc32s): the blob becomes durable and visible at once, or not at all (a mismatch
 * throws IntegrityError). abort() discards everything written.
 */
export interface BlobWriter {
  /** Keeps no reference to `chunk` once it resolves: the caller may refill it (the blob plane does). */
  write(chunk: Buffer): Promise<void>;
  /**
   * Optional: several chunks written as one, in order (one disk write for several socket reads,
   * no joining copy). Keeps no reference to them once it resolves.
   */
  writev?(chunks: readonly Buffer[]): Promise<void>;
  commit(expectedSize: number, expectedSha256: Buffer, expectedBlockCrc?: number): Promise<BlobMeta>;
  abort(): Promise<void>;
}

/** A blob opened for reading: its meta and its bytes from offset, length bytes. */
export interface BlobReader {
  meta: BlobMeta;
  offset: number;
  length: number;
  chunks: AsyncIterable<Buffer>;
  /**
   * Hands a chunk back for a later chunk of this read to be read into (fewer fresh Buffers, fewer
   * mark-compacts). Only once no byte of it is needed any more: for a socket, in the write's
   * callback. Optional for a backend; a consumer that cannot tell (ReadBlob) never calls it.
   */
  recycle?(chunk: Buffer): void;
  /**
   * A whole read of a blob that keeps block crc32s (a version 2 blob file): the fold of its stored
   * table (rpc/block-checksums.ts), which is the fold of the bytes it holds, every block checked
   * against the table as it is read. What a copy's target checks its bytes by instead of hashing
   * them with sha256 (coordinator/replicas/blob-copier.ts); the fold does not depend on which copy
   * it came from. Absent for a range, or a store without the table.
   */
  blockCrc?: number;
  /**
   * With `blockCrc`: the stored table itself (a big-endian crc32 per CHECK_BLOCK bytes), which every
   * chunk of the read is checked against. A compose folds its parts' tables instead of taking the
   * crc32s of their bytes again (server/compose-blob.ts).
   */
  blockTable?: Buffer;
}

/**
 * What a content check of one blob found: "ok" (every byte matches the sha256 stored with it),
 * "corrupt" (a checksum failed, or the blob is truncated or unreadable) or "missing".
 */
export type BlobVerdict = "ok" | "corrupt" | "missing";

export interface BlobVerification {
  verdict: BlobVerdict;
  /** ok: the meta the bytes were checked against. */
  meta?: BlobMeta;
  /** corrupt: what failed. */
  problem?: string;
}

/**
 * The storage behind NodeService; one implementation per node kind (storage: disk with segment
 * files for small blobs; backup: chunk rows in MySQL; delete: a trash directory with expiry).
 * Errors: NotFoundError for a missing blob, IntegrityError for bytes that fail their checksum.
 */
export interface BlobBackend {
  readonly kind: NodeKind;
  open(): Promise<void>;
  close(): Promise<void>;

  beginWrite(blobId: string, attributes: Record<string, string>, check?: WireCheck): Promise<BlobWriter>;
  /**
   * A whole small blob in one call; backends may group these into one durable write (one fsync).
   * `crc32`: the sender's zlib crc32 of `data` (an upload's coordinator sends it): a backend that
   * computes that crc32 anyway (the storage node's segment record) checks the data by it instead of
   * hashing it with sha256, IntegrityError and nothing stored on a mismatch, and keeps `sha256` as
   * given. A backend without one may ignore it and check the sha256, which is always sent.
   */
  putSmall(blobId: string, attributes: Record<string, string>, data: Buffer, sha256: Buffer, crc32?: number): Promise<BlobMeta>;

  /**
   * Throws NotFoundError when missing. length undefined = to the end; ranges are clamped.
   * `chunkBytes`: the size of the chunks the reader wants (a file read in chunks of about that many
   * bytes instead of the backend's own chunk size); a backend may ignore it.
   */
  read(blobId: string, offset: number, length: number | undefined, chunkBytes?: number): Promise<BlobReader>;
  stat(blobId: string): Promise<BlobMeta | null>;
  /**
   * Re-reads the whole blob and checks it against its stored checksum (stat does not: it reads
   * only the meta, which stays right when the bytes rot). A missing or corrupt blob is a verdict,
   * not an error; `signal` stops the read (AbortedError).
   */
  verify(blobId: string, signal?: AbortSignal): Promise<BlobVerification>;
  /** Idempotent: false when there was nothing to delete. */
  delete(blobId: string): Promise<boolean>;
  list(): AsyncIterable<BlobMeta>;
  stats(): Promise<NodeStats>;
  /** A backend that indexes small blobs in memory: how many, and the most it takes before refusing puts. */
  smallBlobIndex?(): { blobs: number; maxBlobs: number };
  /** A backend that compacts segment files: what compaction has done since it opened. */
  compactionStats?(): CompactionStats;
}

/** Counters of a node's segment compaction since its store opened (its minis3_store_compaction_* metrics). */
export interface CompactionStats {
  /** Passes finished (one looks at every sealed segment; most free none). */
  passes: number;
  /** Segments freed by reading only their live puts (the index path). */
  segmentsByIndex: number;
  /** Segments freed by reading them whole (tombstones needed, damage known, or an index read that did not check out). */
  segmentsByScan: number;
  /** Bytes read from the segments being compacted. */
  bytesRead: number;
  /** Live records' bytes written again to the active segment. */
  bytesCopied: number;
  /** Segment bytes removed from the disk, less what was copied out of them. */
  bytesFreed: number;
}
