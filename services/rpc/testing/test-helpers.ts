import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
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
