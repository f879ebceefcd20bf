import { createCipheriv, createHash } from "node:crypto";
import { Readable, Transform } from "node:stream";

// Object bodies for tests: small ones in memory, large ones generated and hashed as they stream, so
// a 256 MiB object never sits in the test's memory. The bytes are pseudo-random (AES-256-CTR over
// zeros, keyed by a seed) rather than a repeating pattern, so a swapped or repeated chunk changes the
// hash; being seeded, a test can generate the same body twice (upload, then compare).

export const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

/** What a streamed body turned out to be, known once it has been fully consumed. */
export interface StreamedDigest {
  size: number;
  sha256: string;
}

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
  return (await hashStream(seededStream(seed, size))).sha256;
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

/** Passes `body` through, hashing it on the way; `digest` resolves once the last chunk has gone out. */
export function hashedAsSent(body: Readable): { stream: Readable; digest: Promise<StreamedDigest> } {
  const hash = createHash("sha256");
  let size = 0;
  let settle!: (d: StreamedDigest) => void;
  const digest = new Promise<StreamedDigest>((r) => {
    settle = r;
  });
  const stream = body.pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
      flush(done) {
        settle({ size, sha256: hash.digest("hex") });
        done();
      },
    }),
  );
  return { stream, digest };
}
