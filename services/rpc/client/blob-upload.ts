import type { BlobMeta } from "../blob-backend";

/** An upload in progress on one node (over its blob plane, or WriteBlob). */
export interface BlobUpload {
  /**
   * Resolves once the chunk has left this process (backpressure), so the caller may refill it if
   * joinAsChunk or allocChunk laid it out (WriteBlob keeps its encoding of any other chunk, for the
   * next replica); rejects if the node failed the upload.
   */
  write(chunk: Buffer): Promise<void>;
  /**
   * Sends the size and sha256 (and `blockCrc`, the fold of the body's block crc32s, which an upload
   * started with the "blockCrc" check must give); resolves when the node made the blob durable.
   */
  finish(size: number, sha256: Buffer, blockCrc?: number): Promise<BlobMeta>;
  /** Cancels the upload: the node discards what it got. */
  abort(): void;
}
