// Verifies the AWS Signature V4 of a request: in the Authorization header or as a presigned URL.
// Input is the request as sent (method, raw path, raw query, lower-case headers), so any front door
// can use it; the body is checked as it streams (body.ts), with what this returns.
import { ErrorCode, MiniS3Error } from "../../common/errors";
import type { Identity, KeyStore } from "../keys";
import { ALGORITHM, canonicalRequest, type HeaderMap, headerOf, parseQuery, sha256Hex, UNSIGNED_PAYLOAD } from "./canonical";
import { sameSignature, type Scope, scopeString, signHex, signingKey } from "./signing-key";

export interface SignedRequest {
  method: string;
  /** The path as sent, still percent-encoded, without the query. */
  path: string;
  /** The query as sent, without `?` ("" when none). */
  query: string;
  headers: HeaderMap;
}

export interface VerifyOptions {
  keys: KeyStore;
  /** Server time in ms (Date.now()). */
  now?: number;
  /** When set, the only region a credential scope may name. */
  region?: string;
  /** The service in the credential scope: "s3". */
  service?: string;
  /** Largest difference between the request's time and the server's: 15 minutes, as S3. */
  maxSkewMs?: number;
  /**
   * Take the query as sent for the canonical one (Authorization header only): curl before 8 signs
   * it so, unsorted and unencoded (`?key=a/b&bucket=x`). The HTTP facade tries this after the
   * canonical form fails; the S3 endpoint never does.
   */
  queryAsSent?: boolean;
}

export const STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
export const STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
export const STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/** How the body must be read: checked against a sha256, taken as it is, or decoded from aws-chunked. */
export type Payload =
  { kind: "sha256"; sha256: string } | { kind: "unsigned" } | { kind: "chunked"; signedChunks: boolean; trailer: boolean };

/** What the chunked decoder chains each chunk's signature from. */
export interface SigningContext {
  key: Buffer;
  amzDate: string;
  scope: string;
  /** The request's own signature: the first chunk's is chained from it. */
  seedSignature: string;
}

export interface Verified {
  identity: Identity;
  presigned: boolean;
  payload: Payload;
  signing: SigningContext;
}

export const MAX_SKEW_MS = 15 * 60_000;
/** Presigned URLs live at most 7 days (S3's limit). */
export const MAX_EXPIRES_S = 7 * 24 * 3600;

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;

function fail(code: ErrorCode, message: string): never {
  throw new MiniS3Error(code, message);
}

/** The last x-amz-date read and its time: the requests of one second all carry the same. */
let lastAmzDate: { text: string; time: number | undefined } = { text: "", time: undefined };

function parseAmzDate(s: string): number | undefined {
  if (s === lastAmzDate.text) return lastAmzDate.time;
  const m = AMZ_DATE.exec(s);
  const t = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
  const time = Number.isNaN(t) ? undefined : t;
  lastAmzDate = { text: s, time };
  return time;
}

/** YYYYMMDDTHHMMSSZ, the form of x-amz-date. */
export function toAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/** A credential read: its access key and scope, and the scope's text (what the string to sign names). */
interface Credential {
  accessKey: string;
  scope: Readonly<Scope>;
  scopeText: string;
}

interface Parsed extends Credential {
  signedHeaders: readonly string[];
  signature: string;
}

/*
 * Credentials and SignedHeaders lists read, by their text, kept as read (shared, never changed): a
 * client sends the same credential all day and one list per kind of request (a GET's, a PUT's), and
 * reading one is a pure function of its text, so a text read before has that answer (a malformed
 * one throws every time: it is never kept). Bounded: cleared when full. With the x-amz-date kept
 * above and the scope's text kept with its credential: a verification (headersFromRaw included) of
 * aws4-signed PUT/GET/DELETE at the bench's 45:45:10, median 12.6 -> 10.4 µs, mean 12.3 -> 10.5 (the
 * two builds round-robin in one process, 15 rounds of 100,000, 2026-12-07).
 */
const credentials = new Map<string, Credential>();
const signedHeaderLists = new Map<string, readonly string[]>();
const MAX_KEPT = 256;
/** Longer texts (a client's, unauthenticated yet) are read each time rather than kept. */
const MAX_KEPT_TEXT = 512;

function keep<T>(map: Map<string, T>, text: string, value: T): T {
  if (text.length > MAX_KEPT_TEXT) return value;
  if (map.size >= MAX_KEPT) map.clear();
  map.set(text, value);
  return value;
}

function parseCredential(credential: string, malformed: ErrorCode): Credential {
  const known = credentials.get(credential);
  if (known !== undefined) return known;
  const parts = credential.split("/");
  if (parts.length !== 5 || parts[4] !== "aws4_request" || !/^\d{8}$/.test(parts[1]) || parts[0] === "" || parts[2] === "") {
    fail(malformed, `the credential '${credential}' is not <access key>/<YYYYMMDD>/<region>/<service>/aws4_request`);
  }
  const scope = { date: parts[1], region: parts[2], service: parts[3] };
  return keep(credentials, credential, { accessKey: parts[0], scope, scopeText: scopeString(scope) });
}

function parseSignedHeaders(list: string, malformed: ErrorCode): readonly string[] {
  const known = signedHeaderLists.get(list);
  if (known !== undefined) return known;
  const names = list.split(";");
  if (list !== list.toLowerCase() || names.includes(""))
    fail(malformed, `SignedHeaders '${list}' must be lower-case names separated by ';'`);
  return keep(signedHeaderLists, list, names);
}

/**
 * Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...
 * Read with indexOf, no Map or spread: it was 1.9 % of the coordinator's CPU under the S3 overwrite
 * load (12 µs an op in a profile, 2026-12-03). The same rules: fields split at ",", trimmed, empty
 * ones skipped, a later one of the same name wins, names other than the three ignored.
 */
export function parseAuthorization(header: string): Parsed {
  const M = ErrorCode.AuthorizationHeaderMalformed;
  const space = header.indexOf(" ");
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== ALGORITHM)
    fail(
      M,
      `the authorization algorithm '${algorithm}' is not supported: sign with ${ALGORITHM} (Signature V4)` +
        (algorithm === "AWS" ? `; Signature Version 2 is not supported ${SIGN_V4_HINT}` : ""),
    );
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  let from = space + 1;
  while (from <= header.length) {
    let comma = header.indexOf(",", from);
    if (comma < 0) comma = header.length;
    const s = header.slice(from, comma).trim();
    from = comma + 1;
    if (s === "") continue;
    const eq = s.indexOf("=");
    if (eq < 0) fail(M, `the authorization field '${s}' has no '='`);
    const name = s.slice(0, eq);
    if (name === "Credential") credential = s.slice(eq + 1);
    else if (name === "SignedHeaders") signedHeaders = s.slice(eq + 1);
    else if (name === "Signature") signature = s.slice(eq + 1);
  }
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    fail(M, "the Authorization header needs Credential, SignedHeaders and Signature");
  }
  if (!HEX64.test(signature)) fail(M, "the Signature is not 64 hex digits");
  const { accessKey, scope, scopeText } = parseCredential(credential, M);
  return { accessKey, scope, scopeText, signedHeaders: parseSignedHeaders(signedHeaders, M), signature: signature.toLowerCase() };
}

function checkScope(scope: Readonly<Scope>, amzDate: string, opts: VerifyOptions, malformed: ErrorCode): void {
  if (scope.date !== amzDate.slice(0, 8))
    fail(malformed, `the credential date ${scope.date} is not the request's date ${amzDate.slice(0, 8)}`);
  const service = opts.service ?? "s3";
  if (scope.service !== service) fail(malformed, `the credential names service '${scope.service}'; this is '${service}'`);
  if (opts.region !== undefined && scope.region !== opts.region) {
    fail(malformed, `the region '${scope.region}' is wrong; expecting '${opts.region}'`);
  }
}

/** Every x-amz-* header sent must be signed (S3's rule): otherwise anyone on the way could add one. */
function checkAmzHeadersSigned(headers: HeaderMap, signed: readonly string[]): void {
  let unsigned: string[] | undefined;
  for (const n in headers) {
    if (n.startsWith("x-amz-") && headers[n] !== undefined && !signed.includes(n)) (unsigned ??= []).push(n);
  }
  if (unsigned) fail(ErrorCode.AccessDenied, `there were headers present in the request which were not signed: ${unsigned.join(", ")}`);
  if (!signed.includes("host")) fail(ErrorCode.AccessDenied, "the host header must be signed");
}

function payloadOf(hash: string): Payload {
  switch (hash) {
    case UNSIGNED_PAYLOAD:
      return { kind: "unsigned" };
    case STREAMING_SIGNED:
      return { kind: "chunked", signedChunks: true, trailer: false };
    case STREAMING_SIGNED_TRAILER:
      return { kind: "chunked", signedChunks: true, trailer: true };
    case STREAMING_UNSIGNED_TRAILER:
      return { kind: "chunked", signedChunks: false, trailer: true };
    default:
      if (!HEX64.test(hash)) {
        fail(
          ErrorCode.InvalidArgument,
          `x-amz-content-sha256 '${hash}' is neither a hex sha256, ${UNSIGNED_PAYLOAD}, nor a STREAMING-* value`,
        );
      }
      return { kind: "sha256", sha256: hash.toLowerCase() };
  }
}

/**
 * True when the request carries credentials of either form (the caller refuses it otherwise): SigV4's,
 * or a Signature V2 URL's, which verifyRequest then refuses saying so.
 */
export function hasSignature(req: SignedRequest): boolean {
  if (headerOf(req.headers, "authorization") !== undefined || /(^|&)X-Amz-Signature=/.test(req.query)) return true;
  return /(^|&)AWSAccessKeyId=/.test(req.query) && /(^|&)Signature=/.test(req.query);
}

/** How aws cli v1, which signs with Signature V2 unless told, is told to sign with V4. */
const SIGN_V4_HINT = "(aws cli v1: aws configure set s3.signature_version s3v4)";

/**
 * aws cli v1 presigns with Signature V2 by default (`aws s3 presign`: AWSAccessKeyId, Signature and
 * Expires in the query), which AWS has turned off for S3 too; without this the URL was refused as
 * "not signed".
 */
const SIGV2_PRESIGNED = `Signature Version 2 presigned URLs (AWSAccessKeyId, Signature, Expires) are not supported: presign with Signature V4 ${SIGN_V4_HINT}`;

/**
 * Verifies a request's signature and time; throws a MiniS3Error with AccessDenied (no credentials,
 * an expired URL, unsigned x-amz-* headers), InvalidAccessKeyId, SignatureDoesNotMatch,
 * RequestTimeTooSkewed, AuthorizationHeaderMalformed or AuthorizationQueryParametersError.
 * The body is not read: `payload` says how it must be checked (body.ts).
 */
export function verifyRequest(req: SignedRequest, opts: VerifyOptions): Verified {
  const authorization = headerOf(req.headers, "authorization");
  const query = parseQuery(req.query);
  const presigned = query.some(([n]) => n === "X-Amz-Signature" || n === "X-Amz-Algorithm" || n === "X-Amz-Credential");
  if (authorization !== undefined && presigned)
    fail(ErrorCode.InvalidArgument, "only one auth mechanism allowed: Authorization header or presigned URL");
  if (authorization !== undefined) return verifyHeaderAuth(req, query, authorization, opts);
  if (presigned) return verifyPresigned(req, query, opts);
  if (query.some(([n]) => n === "AWSAccessKeyId") && query.some(([n]) => n === "Signature"))
    fail(ErrorCode.AuthorizationQueryParametersError, SIGV2_PRESIGNED);
  fail(ErrorCode.AccessDenied, "the request is not signed: sign it with AWS Signature V4");
}

function lookup(opts: VerifyOptions, accessKey: string) {
  const credential = opts.keys.lookup(accessKey);
  if (!credential) fail(ErrorCode.InvalidAccessKeyId, `the access key ${accessKey} does not exist`);
  return credential;
}

function verifyHeaderAuth(req: SignedRequest, query: Array<[string, string]>, authorization: string, opts: VerifyOptions): Verified {
  const M = ErrorCode.AuthorizationHeaderMalformed;
  const parsed = parseAuthorization(authorization);
  const amzHeader = headerOf(req.headers, "x-amz-date");
  const dateHeader = headerOf(req.headers, "date");
  let time: number | undefined;
  let amzDate: string;
  if (amzHeader !== undefined) {
    time = parseAmzDate(amzHeader);
    if (time === undefined) fail(M, `x-amz-date '${amzHeader}' is not YYYYMMDDTHHMMSSZ`);
    amzDate = amzHeader;
  } else if (dateHeader !== undefined) {
    time = Date.parse(dateHeader);
    if (Number.isNaN(time)) fail(M, `the Date header '${dateHeader}' cannot be read`);
    amzDate = toAmzDate(time);
  } else {
    fail(ErrorCode.AccessDenied, "a signed request needs an x-amz-date or Date header");
  }
  checkScope(parsed.scope, amzDate, opts, M);
  const credential = lookup(opts, parsed.accessKey);
  const now = opts.now ?? Date.now();
  const maxSkew = opts.maxSkewMs ?? MAX_SKEW_MS;
  if (Math.abs(now - time) > maxSkew) {
    fail(ErrorCode.RequestTimeTooSkewed, `the difference between the request time (${amzDate}) and the server's time is too large`);
  }
  checkAmzHeadersSigned(req.headers, parsed.signedHeaders);
  const hashHeader = headerOf(req.headers, "x-amz-content-sha256");
  let payloadHash: string;
  if (hashHeader !== undefined) payloadHash = hashHeader.trim();
  else if (!hasBody(req.headers)) payloadHash = sha256Hex("");
  else
    fail(
      ErrorCode.InvalidArgument,
      "a request with a body must carry x-amz-content-sha256 (a hex sha256, UNSIGNED-PAYLOAD or STREAMING-*)",
    );
  const payload = payloadOf(payloadHash);
  const signing = check(req, query, undefined, parsed, amzDate, payloadHash, credential.secretKey, opts.queryAsSent);
  return { identity: credential.identity, presigned: false, payload, signing };
}

function hasBody(headers: HeaderMap): boolean {
  const length = headerOf(headers, "content-length");
  return headerOf(headers, "transfer-encoding") !== undefined || (length !== undefined && length.trim() !== "0");
}

function verifyPresigned(req: SignedRequest, query: Array<[string, string]>, opts: VerifyOptions): Verified {
  const Q = ErrorCode.AuthorizationQueryParametersError;
  const param = (name: string): string => {
    const values = query.filter(([n]) => n === name);
    if (values.length !== 1) fail(Q, `a presigned URL needs exactly one ${name} parameter`);
    return values[0][1];
  };
  const algorithm = param("X-Amz-Algorithm");
  if (algorithm !== ALGORITHM) fail(Q, `X-Amz-Algorithm must be ${ALGORITHM}`);
  const { accessKey, scope, scopeText } = parseCredential(param("X-Amz-Credential"), Q);
  const amzDate = param("X-Amz-Date");
  const time = parseAmzDate(amzDate);
  if (time === undefined) fail(Q, `X-Amz-Date '${amzDate}' is not YYYYMMDDTHHMMSSZ`);
  const expiresRaw = param("X-Amz-Expires");
  const expires = /^\d{1,7}$/.test(expiresRaw) ? Number(expiresRaw) : NaN;
  if (!(expires >= 1 && expires <= MAX_EXPIRES_S)) fail(Q, `X-Amz-Expires must be a number of seconds from 1 to ${MAX_EXPIRES_S} (7 days)`);
  const signedHeaders = parseSignedHeaders(param("X-Amz-SignedHeaders"), Q);
  const signature = param("X-Amz-Signature");
  if (!HEX64.test(signature)) fail(Q, "X-Amz-Signature is not 64 hex digits");
  checkScope(scope, amzDate, opts, Q);
  const credential = lookup(opts, accessKey);
  const now = opts.now ?? Date.now();
  if (now < time - (opts.maxSkewMs ?? MAX_SKEW_MS)) fail(ErrorCode.AccessDenied, "request is not valid yet");
  if (now > time + expires * 1000) fail(ErrorCode.AccessDenied, "request has expired");
  checkAmzHeadersSigned(req.headers, signedHeaders);
  // A presigned URL signs no body unless it says so (S3): in the query, or a signed header.
  const inQuery = query.find(([n]) => n === "X-Amz-Content-Sha256")?.[1];
  const inHeader = signedHeaders.includes("x-amz-content-sha256") ? headerOf(req.headers, "x-amz-content-sha256")?.trim() : undefined;
  const payloadHash = inQuery ?? inHeader ?? UNSIGNED_PAYLOAD;
  const payload = payloadOf(payloadHash);
  const parsed = { accessKey, scope, scopeText, signedHeaders, signature: signature.toLowerCase() };
  const signing = check(req, query, "X-Amz-Signature", parsed, amzDate, payloadHash, credential.secretKey);
  return { identity: credential.identity, presigned: true, payload, signing };
}

function check(
  req: SignedRequest,
  query: Array<[string, string]>,
  leaveOut: string | undefined,
  parsed: Parsed,
  amzDate: string,
  payloadHash: string,
  secret: string,
  queryAsSent = false,
): SigningContext {
  const built = canonicalRequest({
    method: req.method,
    rawPath: req.path,
    query,
    leaveOut,
    queryAsSent: queryAsSent ? req.query : undefined,
    headers: req.headers,
    signedHeaders: parsed.signedHeaders,
    payloadHash,
  });
  if ("missingHeader" in built) fail(ErrorCode.SignatureDoesNotMatch, `the signed header ${built.missingHeader} is not in the request`);
  const scope = parsed.scopeText;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(built.request)}`;
  const key = signingKey(secret, parsed.scope);
  const expected = signHex(key, stringToSign);
  if (!sameSignature(expected, parsed.signature)) {
    fail(
      ErrorCode.SignatureDoesNotMatch,
      "the request signature we calculated does not match the signature you provided: check your key and signing method",
    );
  }
  return { key, amzDate, scope, seedSignature: parsed.signature };
}
