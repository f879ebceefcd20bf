import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { Logger } from "../../common/logger";

export const silentLog: Logger = pino({ level: "silent" });

export function sha256(data: Buffer): Buffer {
  return createHash("sha256").update(data).digest();
}

export function blobOf(size: number): { data: Buffer; sha256: Buffer } {
  const data = randomBytes(size);
  return { data, sha256: sha256(data) };
}

export async function tempDir(label: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `minis3-${label}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Flips one bit of the byte at `position` of a file (negative: from its end): bit rot behind a node's back. */
export async function flipByte(path: string, position: number): Promise<void> {
  const fd = await open(path, "r+");
  try {
    const at = position < 0 ? (await fd.stat()).size + position : position;
    const b = Buffer.alloc(1);
    const { bytesRead } = await fd.read(b, 0, 1, at);
    if (bytesRead !== 1) throw new Error(`${path} has no byte ${at}`);
    b[0] ^= 0x10;
    await fd.write(b, 0, 1, at);
  } finally {
    await fd.close();
  }
}
