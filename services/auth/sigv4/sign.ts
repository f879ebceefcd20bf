// Signs an outgoing request with AWS Signature V4 (Authorization header), for MiniS3's own clients
// (the minis3 CLI). It builds the canonical request with the same code the verifier checks it with
// (canonical.ts, signing-key.ts), so the two cannot drift apart; signers.test.ts checks it against
// aws4, an independent signer.
import { ALGORITHM, canonicalRequest, parseQuery, sha256Hex } from "./canonical";
import { scopeString, signHex, signingKey } from "./signing-key";
import { toAmzDate } from "./verify";

export interface RequestToSign {
  method: string;
  /** The path as it will be sent, percent-encoded, without the query. */
  path: string;
  /** The query as it will be sent, without `?` ("" when none). */
  query: string;
  /** host:port as it will be sent in the Host header. */
  host: string;
  /** Other headers to sign (lower-case names), e.g. content-type, x-amz-meta-*. */
  headers?: Record<string, string>;
  /** The body's hex sha256, or UNSIGNED-PAYLOAD for a body not hashed first; default: an empty body's. */
  payloadHash?: string;
}

export interface SigningCredentials {
  accessKey: string;
  secretKey: string;
  region?: string;
}

/**
 * The headers to send with the request: the given ones, plus x-amz-date, x-amz-content-sha256 and
 * Authorization. Every header returned but Host is signed (S3 refuses an unsigned x-amz-*).
 */
export function signRequest(req: RequestToSign, creds: SigningCredentials, nowMs = Date.now()): Record<string, string> {
  const amzDate = toAmzDate(nowMs);
  const scope = { date: amzDate.slice(0, 8), region: creds.region ?? "us-east-1", service: "s3" };
  const payloadHash = req.payloadHash ?? sha256Hex("");
  const headers: Record<string, string> = {
    ...req.headers,
    host: req.host,
    "x-amz-date": amzDate,
    "x-amz-content-sha256": payloadHash,
  };
  const signedHeaders = Object.keys(headers).sort();
  const built = canonicalRequest({
    method: req.method,
    rawPath: req.path,
    query: parseQuery(req.query),
    headers,
    signedHeaders,
    payloadHash,
  });
  if ("missingHeader" in built) throw new Error(`cannot sign: header ${built.missingHeader} has no value`);
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scopeString(scope)}\n${sha256Hex(built.request)}`;
  const signature = signHex(signingKey(creds.secretKey, scope), stringToSign);
  headers.authorization = `${ALGORITHM} Credential=${creds.accessKey}/${scopeString(scope)}, SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`;
  return headers;
}
