import type { FileHandle } from "node:fs/promises";

/**
 * Reads into `buf` from `position` until it is full or the file ends (a read may come back short
 * before the end); returns how many bytes it holds. Callers decide what a short file means.
 */
export async function readUpTo(fd: FileHandle, buf: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buf.length) {
    const { bytesRead } = await fd.read(buf, filled, buf.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
