// Test helpers for the SigV4 tests: AWS's example keys, and a body fed to the decoder in pieces.
import { KeyStore } from "../keys";
import type { HeaderMap } from "../sigv4/canonical";
import { authenticatedBody, checkedBody, type AuthenticatedBody } from "../sigv4/body";
import type { Verified } from "../sigv4/verify";

/** The key of AWS's S3 signing examples, and the one of the SigV4 test suite. */
export const S3_EXAMPLE = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
export const SUITE_EXAMPLE = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };

export const exampleKeys = new KeyStore([
  { identity: { user: "s3-example", accessKey: S3_EXAMPLE.accessKeyId, buckets: "*" }, secretKey: S3_EXAMPLE.secretAccessKey },
  {
    identity: { user: "suite-example", accessKey: SUITE_EXAMPLE.accessKeyId, buckets: ["examplebucket"] },
    secretKey: SUITE_EXAMPLE.secretAccessKey,
  },
]);

/** 2013-05-24T00:00:00Z, the time of AWS's S3 examples. */
export const EXAMPLE_TIME = Date.UTC(2013, 4, 24);

/** Splits a body into pieces of `size` bytes (the last shorter), as reads off a socket would. */
export function pieces(body: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) out.push(body.subarray(i, i + size));
  return out;
}

/** Runs a body through the decoder in reads of `pieceSize`; the bytes out, or the error. */
export async function decode(
  verified: Verified,
  headers: HeaderMap,
  body: Buffer,
  pieceSize = 65536,
): Promise<{ bytes: Buffer; decoder: AuthenticatedBody; largestPiece: number } | { error: unknown }> {
  const decoder = authenticatedBody(verified, headers);
  const out: Buffer[] = [];
  let largestPiece = 0;
  async function* reads(): AsyncGenerator<Buffer> {
    yield* pieces(body, pieceSize);
  }
  try {
    for await (const piece of checkedBody(reads(), decoder)) {
      out.push(piece);
      largestPiece = Math.max(largestPiece, piece.length);
    }
    return { bytes: Buffer.concat(out), decoder, largestPiece };
  } catch (error) {
    return { error };
  }
}
