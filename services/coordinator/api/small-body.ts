// Small reads sent whole, by every HTTP door (facade and S3).

/**
 * Reads up to this size are gathered and sent with their headers in one write: cheaper than a
 * stream. On S3 a streamed 4 KiB GET cost a Readable, a stream.pipeline and its AbortController
 * (whose abort() at the end builds a DOMException with a stack): 2-3 % of the coordinator's CPU
 * under the S3 overwrite load.
 */
export const SMALL_BODY = 64 * 1024;

/** A body's bytes in one buffer (the one chunk itself when there is only one). */
export async function gather(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}
