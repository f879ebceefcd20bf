import { AbortedError, InvalidArgumentError, MiniS3Error, TooLargeError } from "../../common/errors";
import { countFreshBodyBytes } from "../../common/young-gc-pacer";

/**
 * Pulls an upload body, enforcing the size limit and the declared length as the bytes arrive, so
 * a bad upload fails before it is stored. (Its digests are the engine's: upload-digest.ts.)
 */
export class UploadBody {
  size = 0;
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;

  constructor(
    body: AsyncIterable<Buffer | Uint8Array | string>,
    private readonly maxSize: number,
    /** The length the client declared, if it did. */
    readonly declared?: number,
  ) {
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
    countFreshBodyBytes(chunk.length);
    if (this.size > this.maxSize) throw new TooLargeError(`object is larger than the limit of ${this.maxSize} bytes`);
    if (this.declared !== undefined && this.size > this.declared) {
      throw new InvalidArgumentError(`body is longer than the declared ${this.declared} bytes`);
    }
    return chunk;
  }

  /** Stops reading (the client's stream is closed). */
  cancel(): void {
    void this.it.return?.()?.catch?.(() => undefined);
  }
}
