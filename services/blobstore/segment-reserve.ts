import { randomBytes } from "node:crypto";
import { open, stat, unlink } from "node:fs/promises";
import type { Logger } from "../common/logger";

/** True for the errors a full disk raises. */
export function isNoSpace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/**
 * Disk space held in a file of its own, given back when the disk is full (review finding 16): a
 * delete must append a tombstone and compaction must append what it keeps, so a disk full of
 * segments could not free itself. While released, the store refuses puts (they would eat the space
 * the deletes need); it is taken again once compaction has freed enough.
 * Random bytes, not zeros or a sparse file: the blocks must really be allocated, also on a
 * compressing file system.
 */
export class SpaceReserve {
  private releasedNow = false;

  constructor(
    private readonly path: string,
    private readonly bytes: number,
    private readonly log: Logger,
  ) {}

  /** Released and not taken back yet: the disk was full. */
  get released(): boolean {
    return this.releasedNow;
  }

  /** Makes sure the reserve is held; false if the disk has no room for it. */
  async take(): Promise<boolean> {
    if (this.bytes === 0) return true;
    const size = await stat(this.path).then(
      (s) => s.size,
      () => -1,
    );
    if (size !== this.bytes) {
      try {
        const fd = await open(this.path, "w");
        try {
          await fd.write(randomBytes(this.bytes), 0, this.bytes, 0);
          await fd.sync();
        } finally {
          await fd.close();
        }
      } catch (e) {
        await unlink(this.path).catch(() => undefined);
        if (!isNoSpace(e)) throw e;
        this.log.warn({ path: this.path, bytes: this.bytes }, "no room for the segment store's space reserve");
        return false;
      }
    }
    if (this.releasedNow) this.log.info({ path: this.path }, "space reserve taken again: small puts accepted");
    this.releasedNow = false;
    return true;
  }

  /** Gives the space back, once; false if there was none to give. */
  async release(): Promise<boolean> {
    if (this.bytes === 0 || this.releasedNow) return false;
    try {
      await unlink(this.path);
    } catch {
      return false;
    }
    this.releasedNow = true;
    this.log.warn(
      { path: this.path, bytes: this.bytes },
      "disk full: space reserve released for deletes and compaction; small puts refused until it is taken again",
    );
    return true;
  }
}
