/**
 * The crc32 of each CHECK_BLOCK bytes of a blob, block 0 at byte 0, whatever sizes its chunks come
 * in: the table a version 2 blob file keeps after its data (blobstore/blob-file-format.ts), and its
 * fold (the crc32 of the table), which a large upload's sender puts in its trailer for the node to
 * check its bytes by (rpc/blob-plane.ts BLOCK_CRC_FIELD).
 *
 * The class is self-contained (it uses only its constructor's arguments and globals): the
 * coordinator's digest thread (coordinator/objects/upload-digest.ts) runs it from its source text,
 * so the sender and the node cut the blocks with one piece of code.
 */

/** Bytes per block checksum: a ranged read reads whole blocks (at most 2 × 64 KiB more). */
export const CHECK_BLOCK = 64 * 1024;

/** common/crc32.ts's crc32 (passed in rather than imported: see above). */
export type Crc32 = (data: Uint8Array, value?: number) => number;

export class BlockChecksums {
  private readonly done: number[] = [];
  private crc = 0;
  private fill = 0;

  constructor(
    private readonly crc32: Crc32,
    private readonly blockBytes: number,
  ) {}

  update(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length;) {
      const n = Math.min(this.blockBytes - this.fill, chunk.length - at);
      this.crc = this.crc32(chunk.subarray(at, at + n), this.crc);
      this.fill += n;
      at += n;
      if (this.fill === this.blockBytes) {
        this.done.push(this.crc);
        this.crc = 0;
        this.fill = 0;
      }
    }
  }

  /** The crc32s so far, big-endian u32 each, in order (the last block may be short). */
  table(): Buffer {
    const all = this.fill ? [...this.done, this.crc] : this.done;
    const buf = Buffer.alloc(all.length * 4);
    all.forEach((c, i) => buf.writeUInt32BE(c, i * 4));
    return buf;
  }

  /** One 32-bit value for the whole body: the crc32 of `table`. */
  fold(table: Buffer = this.table()): number {
    return this.crc32(table);
  }
}
