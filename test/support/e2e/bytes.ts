import { createCipheriv, createHash } from "node:crypto";
import { Readable } from "node:stream";

// Deterministic pseudo-random bytes for large bodies: AES-256-CTR over zeros, keyed by a seed, so a
// test can stream a big body twice (upload, then compare) without holding it in memory.

function cipherFor(seed: string) {
  const key = createHash("sha256").update(seed).digest();
  return createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
}

/** A stream of `size` pseudo-random bytes in `chunkSize` pieces, the same for the same seed. */
export function seededStream(seed: string, size: number, chunkSize = 256 * 1024): Readable {
  const cipher = cipherFor(seed);
  const zeros = Buffer.alloc(chunkSize);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(left, chunkSize);
      left -= n;
      this.push(cipher.update(n === chunkSize ? zeros : zeros.subarray(0, n)));
    },
  });
}

/** The whole body in memory: for objects of a few MiB only. */
export function seededBytes(seed: string, size: number): Buffer {
  return cipherFor(seed).update(Buffer.alloc(size));
}

/** The sha256 (hex) of the seeded stream, computed without keeping it. */
export async function seededSha256(seed: string, size: number): Promise<string> {
  return (await sha256OfStream(seededStream(seed, size))).sha256;
}

export const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

export async function sha256OfStream(stream: AsyncIterable<Buffer | Uint8Array>): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.digest("hex"), size };
}
