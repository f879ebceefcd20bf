import { open } from "node:fs/promises";
import { flipByte } from "../../rpc/testing/test-helpers";
import { readHeader } from "../blob-file-format";

/** Flips a byte of a large blob's file, `at` bytes into its data: the header (with the sha256) stays right. */
export async function corruptBlobData(path: string, at: number): Promise<void> {
  const fd = await open(path, "r");
  let headerLength: number;
  try {
    headerLength = (await readHeader(fd, path)).headerLength;
  } finally {
    await fd.close();
  }
  await flipByte(path, headerLength + at);
}

/**
 * Rewrites a blob file as version 1 wrote it (no block checksums), as files written before them
 * are: the table cut off, the old magic.
 */
export async function downgradeToVersion1(path: string): Promise<void> {
  const fd = await open(path, "r+");
  try {
    const h = await readHeader(fd, path);
    await fd.truncate(h.headerLength + h.size);
    await fd.write(Buffer.from("M3BLOB01", "ascii"), 0, 8, 0);
  } finally {
    await fd.close();
  }
}
