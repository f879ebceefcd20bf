import { createHash, randomBytes } from "node:crypto";

// Object bodies for lifecycle tests: small ones in memory, large ones generated and hashed as
// they stream, so a 256 MiB object never sits in the test's memory.

export const sha256Hex = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** What a streamed body turned out to be, known once it has been fully consumed. */
export interface StreamedDigest {
  size: number;
  sha256: string;
}

/**
 * A body of `size` random bytes in `chunkSize` pieces. Random rather than a repeating pattern so
 * that a swapped or repeated chunk changes the hash; `digest` resolves when the last chunk is out.
 */
export function randomStream(size: number, chunkSize = 1024 * 1024): { stream: ReadableStream<Uint8Array>; digest: Promise<StreamedDigest> } {
  const hash = createHash("sha256");
  let sent = 0;
  let settle!: (d: StreamedDigest) => void;
  const digest = new Promise<StreamedDigest>((r) => { settle = r; });
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) {
        controller.close();
        settle({ size: sent, sha256: hash.digest("hex") });
        return;
      }
      const piece = randomBytes(Math.min(chunkSize, size - sent));
      hash.update(piece);
      sent += piece.length;
      controller.enqueue(piece);
    },
  });
  return { stream, digest };
}

/** Hashes a response body (or any byte stream) chunk by chunk. */
export async function hashStream(body: AsyncIterable<Uint8Array> | null): Promise<StreamedDigest> {
  const hash = createHash("sha256");
  let size = 0;
  if (body) {
    for await (const chunk of body) {
      hash.update(chunk);
      size += chunk.length;
    }
  }
  return { size, sha256: hash.digest("hex") };
}
