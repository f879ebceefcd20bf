// The facade's credentials (issue 14 item 4): a bearer token derived from the key pair, SigV4 as the
// SDKs sign it, and SigV4 as curl before 8 signs it (the query as sent).
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { ErrorCode } from "../common/errors";
import { mintBearerToken, verifyBearerToken } from "./bearer-token";
import { KeyStore } from "./keys";
import { authenticateRequest } from "./request-credentials";
import { ALGORITHM, canonicalRequest, EMPTY_SHA256, sha256Hex } from "./sigv4/canonical";
import { scopeString, signHex, signingKey } from "./sigv4/signing-key";

const AK = "AKMINIS3FACADE000001";
const SK = "facade/test+secret=key0123456789abcdefgh";
const keys = KeyStore.single(AK, SK);
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const AMZ_DATE = "20261201T120000Z";
const HOST = "127.0.0.1:8080";

describe("bearer token", () => {
  test("made from the key pair, it names the user for 15 minutes either way", () => {
    const token = mintBearerToken(AK, SK, NOW);
    expect(verifyBearerToken(token, keys, NOW).accessKey).toBe(AK);
    expect(verifyBearerToken(token, keys, NOW + 14 * 60_000).user).toBe(AK);
    expect(verifyBearerToken(token, keys, NOW - 14 * 60_000).user).toBe(AK);
  });

  test.each([
    ["a token older than 15 minutes", mintBearerToken(AK, SK, NOW - 16 * 60_000), ErrorCode.RequestTimeTooSkewed],
    ["a token made with another secret", mintBearerToken(AK, SK + "x", NOW), ErrorCode.SignatureDoesNotMatch],
    ["an unknown access key", mintBearerToken("AKNOBODY", SK, NOW), ErrorCode.InvalidAccessKeyId],
    [
      "a token with its time changed",
      mintBearerToken(AK, SK, NOW).replace(/:(\d+):/, (_m, s) => `:${Number(s) + 1}:`),
      ErrorCode.SignatureDoesNotMatch,
    ],
    ["something else", "hello", ErrorCode.AuthorizationHeaderMalformed],
  ])("%s is refused", (_what, token, code) => {
    expect(() => verifyBearerToken(token, keys, NOW)).toThrow(expect.objectContaining({ code }));
  });

  test("a token verified before still expires 15 minutes from its time", () => {
    const token = mintBearerToken(AK, SK, NOW + 1000);
    expect(verifyBearerToken(token, keys, NOW).user).toBe(AK);
    expect(() => verifyBearerToken(token, keys, NOW + 1000 + 16 * 60_000)).toThrow(
      expect.objectContaining({ code: ErrorCode.RequestTimeTooSkewed }),
    );
  });

  test("a token verified before is refused by a key store where its key has another secret, or none", () => {
    const token = mintBearerToken(AK, SK, NOW + 2000);
    expect(verifyBearerToken(token, keys, NOW).user).toBe(AK);
    expect(() => verifyBearerToken(token, KeyStore.single(AK, SK + "rotated"), NOW)).toThrow(
      expect.objectContaining({ code: ErrorCode.SignatureDoesNotMatch }),
    );
    expect(() => verifyBearerToken(token, KeyStore.single("AKSOMEONEELSE", SK), NOW)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidAccessKeyId }),
    );
  });
});

describe("authenticateRequest", () => {
  const get = (path: string, query: string, headers: Record<string, string>) => ({ method: "GET", path, query, headers });

  test("no credentials at all: undefined (the facade answers 401)", () => {
    expect(authenticateRequest(get("/retrieve", "key=a", { host: HOST }), keys, { now: NOW })).toBeUndefined();
  });

  test("Authorization: Bearer <token>", () => {
    const r = authenticateRequest(
      get("/retrieve", "key=a", { host: HOST, authorization: `Bearer ${mintBearerToken(AK, SK, NOW)}` }),
      keys,
      {
        now: NOW,
      },
    );
    expect(r?.identity.accessKey).toBe(AK);
    expect(r?.verified).toBeUndefined();
  });

  test("SigV4 as the AWS SDK signs it", async () => {
    const signer = new SignatureV4({
      credentials: { accessKeyId: AK, secretAccessKey: SK },
      region: "us-east-1",
      service: "s3",
      sha256: Sha256,
    });
    const signed = await signer.sign(
      {
        method: "GET",
        protocol: "http:",
        hostname: "127.0.0.1",
        port: 8080,
        path: "/retrieve",
        query: { key: "a/b.txt", bucket: "photos" },
        headers: { host: HOST },
      },
      { signingDate: new Date(NOW) },
    );
    const r = authenticateRequest(get("/retrieve", "key=a%2Fb.txt&bucket=photos", signed.headers as Record<string, string>), keys, {
      now: NOW,
    });
    expect(r?.identity.accessKey).toBe(AK);
    expect(r?.verified?.payload).toEqual({ kind: "sha256", sha256: EMPTY_SHA256 });
  });

  /** Signed as curl 7.x does: the query string as written, unsorted, `/` unencoded. */
  function curl7Signature(query: string, secret = SK): Record<string, string> {
    const scope = { date: AMZ_DATE.slice(0, 8), region: "us-east-1", service: "s3" };
    const headers = { host: HOST, "x-amz-date": AMZ_DATE };
    const built = canonicalRequest({
      method: "GET",
      rawPath: "/retrieve",
      query: [],
      queryAsSent: query,
      headers,
      signedHeaders: ["host", "x-amz-date"],
      payloadHash: EMPTY_SHA256,
    });
    if (!("request" in built)) throw new Error("unreachable");
    const signature = signHex(signingKey(secret, scope), `${ALGORITHM}\n${AMZ_DATE}\n${scopeString(scope)}\n${sha256Hex(built.request)}`);
    return {
      ...headers,
      authorization: `${ALGORITHM} Credential=${AK}/${scopeString(scope)}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    };
  }

  test("SigV4 as curl 7 signs it (the query as sent) is accepted; a wrong secret still is not", () => {
    const query = "key=a/b.txt&bucket=photos";
    expect(authenticateRequest(get("/retrieve", query, curl7Signature(query)), keys, { now: NOW })?.identity.accessKey).toBe(AK);
    expect(() => authenticateRequest(get("/retrieve", query, curl7Signature(query, SK + "x")), keys, { now: NOW })).toThrow(
      expect.objectContaining({ code: ErrorCode.SignatureDoesNotMatch }),
    );
    // Signed for one query, sent with another: refused whichever form is tried.
    expect(() => authenticateRequest(get("/retrieve", "key=a/b.txt&bucket=other", curl7Signature(query)), keys, { now: NOW })).toThrow(
      expect.objectContaining({ code: ErrorCode.SignatureDoesNotMatch }),
    );
  });
});
