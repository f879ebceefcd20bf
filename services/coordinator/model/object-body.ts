/**
 * An object's bytes as the replica reader gives them. Chunks read over a node's blob plane are
 * slices of reused read buffers: a consumer that writes them to a socket hands each back
 * (`recycle`) in that write's callback, never earlier, and the memory is read into again (fewer
 * fresh Buffers, fewer mark-compacts on the coordinator). A consumer that keeps chunks, or cannot
 * tell when they were written, never calls it and loses nothing but the reuse.
 */
export interface ObjectBody extends AsyncIterable<Buffer> {
  recycle?(chunk: Buffer): void;
  /**
   * A whole large version read from a copy that keeps block crc32s and names the version's size and
   * sha256: the fold of its stored table (rpc/blob-backend.ts BlobReader.blockCrc). A copy to
   * another tier sends it for the target to check its bytes by.
   */
  blockCrc?: number;
}
