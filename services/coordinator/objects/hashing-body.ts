import { createHash, type Hash } from "node:crypto";
import { AbortedError, InvalidArgumentError, MiniS3Error, TooLargeError } from "../../common/errors";

/**
 * Pulls an upload body, hashing it (sha256 for integrity, md5 for the S3 ETag) and enforcing the
 * size limit and the declared length as the bytes arrive, so a bad upload fails before it is stored.
 */
export class HashingBody {
  size = 0;
  private readonly sha = createHash("sha256");
  private readonly md5: Hash = createHash("md5");
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;

  constructor(body: AsyncIterable<Buffer | Uint8Array | string>, private readonly maxSize: number, private readonly declared?: number) {
    if (declared !== undefined && declared > maxSize) {
      throw new TooLargeError(`object of ${declared} bytes is larger than the limit of ${maxSize} bytes`);
    }
    this.it = body[Symbol.asyncIterator]();
  }

  /** The next piece of the body, or null at its end. */
  async next(): Promise<Buffer | null> {
    let r: IteratorResult<Buffer | Uint8Array | string>;
    try {
      r = await this.it.next();
    } catch (e) {
      if (e instanceof MiniS3Error) throw e;
      throw new AbortedError(`upload interrupted: ${(e as Error).message ?? e}`);
    }
    if (r.done) {
      if (this.declared !== undefined && this.size !== this.declared) {
        throw new AbortedError(`upload ended after ${this.size} of ${this.declared} declared bytes`);
      }
      return null;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    this.size += chunk.length;
    if (this.size > this.maxSize) throw new TooLargeError(`object is larger than the limit of ${this.maxSize} bytes`);
    if (this.declared !== undefined && this.size > this.declared) {
      throw new InvalidArgumentError(`body is longer than the declared ${this.declared} bytes`);
    }
    this.sha.update(chunk);
    this.md5.update(chunk);
    return chunk;
  }

  /** Stops reading (the client's stream is closed). */
  cancel(): void {
    void this.it.return?.()?.catch?.(() => undefined);
  }

  private digested?: { sha256: Buffer; etag: string };

  /** The body's digests; call once the body has been read to its end. */
  digest(): { sha256: Buffer; etag: string } {
    this.digested ??= { sha256: this.sha.digest(), etag: this.md5.digest("hex") };
    return this.digested;
  }
}
