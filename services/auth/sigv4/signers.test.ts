// Requests signed by two independent signers, @smithy/signature-v4 (the AWS SDK's) and aws4, must
// verify; any single change to what they signed must not.
import { createHash } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import aws4 from "aws4";
import { ErrorCode, isMiniS3Error } from "../../common/errors";
import { KeyStore } from "../keys";
import { headersFromRaw, type HeaderMap } from "./canonical";
import { signRequest } from "./sign";
import { type SignedRequest, verifyRequest, type VerifyOptions } from "./verify";

const credentials = { accessKeyId: "AKMINIS3TEST", secretAccessKey: "minis3/test+secret=key" };
const keys = KeyStore.single(credentials.accessKeyId, credentials.secretAccessKey);
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const opts: VerifyOptions = { keys, now: NOW };

const smithy = new SignatureV4({
  credentials,
  region: "us-east-1",
  service: "s3",
  sha256: Sha256,
  uriEscapePath: false,
  applyChecksum: true,
});

/** The AWS SDK's escaping of a path segment and of query names and values (as its HTTP handler sends them). */
function escape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}
const keyPath = (bucket: string, key: string) => `/${bucket}/${key.split("/").map(escape).join("/")}`;

type Query = Record<string, string | string[]>;
function queryString(q: Query): string {
  return Object.entries(q)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${escape(k)}=${escape(x)}`))
    .join("&");
}

interface Plain {
  method: string;
  path: string;
  query?: Query;
  headers?: Record<string, string>;
  body?: string;
}

/** The SDK's request object for a plain description. */
function httpRequest(r: Plain, extraHeaders: Record<string, string> = {}) {
  const headers = { host: "localhost:9000", ...extraHeaders, ...r.headers };
  return {
    method: r.method,
    protocol: "http:",
    hostname: "localhost",
    port: 9000,
    path: r.path,
    query: r.query ?? {},
    headers,
    body: r.body,
  };
}

/** Signs with the SDK's signer and returns the request as it goes on the wire. */
async function smithySigned(r: Plain, signingDate = new Date(NOW)): Promise<SignedRequest> {
  const signed = await smithy.sign(httpRequest(r), { signingDate });
  return { method: r.method, path: r.path, query: queryString((signed.query ?? {}) as Query), headers: lower(signed.headers) };
}

async function smithyPresigned(r: Plain, expiresIn: number, signingDate = new Date(NOW)): Promise<SignedRequest> {
  // As the SDK's presigner: the payload is UNSIGNED-PAYLOAD, and that header is neither signed nor sent.
  const signed = await smithy.presign(httpRequest(r, { "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }), {
    signingDate,
    expiresIn,
    unsignableHeaders: new Set(["x-amz-content-sha256"]),
    unhoistableHeaders: new Set(["x-amz-content-sha256"]),
  });
  const headers = lower(signed.headers);
  delete headers["x-amz-content-sha256"];
  return { method: r.method, path: r.path, query: queryString(signed.query as Query), headers };
}

function lower(h: Record<string, string | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = String(v);
  return out;
}

/** Signs with aws4 (it reads the clock itself: verified with now = Date.now()). */
function aws4Signed(r: Plain & { rawPath: string }, signQuery = false): SignedRequest {
  const signed = aws4.sign(
    {
      host: "localhost:9000",
      method: r.method,
      path: r.rawPath,
      service: "s3",
      region: "us-east-1",
      headers: { ...r.headers },
      body: r.body,
      signQuery,
    },
    credentials,
  );
  const path = signed.path as string;
  const q = path.indexOf("?");
  const headers = lower(signed.headers as Record<string, string>);
  headers.host ??= "localhost:9000";
  return { method: r.method, path: q < 0 ? path : path.slice(0, q), query: q < 0 ? "" : path.slice(q + 1), headers };
}

function codeOf(req: SignedRequest, o: VerifyOptions = opts): ErrorCode | "ok" {
  try {
    verifyRequest(req, o);
    return "ok";
  } catch (e) {
    if (!isMiniS3Error(e)) throw e;
    return e.code;
  }
}

const ODD_KEYS = [
  "plain.txt",
  "with space.txt",
  "ünïcødé/日本語.bin",
  "a+b=c.txt",
  "tilde~and%percent",
  "dir/sub dir/(paren)*star!'quote",
  "emoji 🎉.png",
];
const ODD_QUERY: Query = {
  prefix: "a b+c",
  delimiter: "/",
  "list-type": "2",
  marker: "x=y&z",
  token: "%41~é",
  "max-keys": "",
  tags: ["b", "a"],
};

describe("@smithy/signature-v4 (the AWS SDK's signer)", () => {
  test.each(ODD_KEYS)("GET of %j with an odd query verifies", async (key) => {
    const req = await smithySigned({ method: "GET", path: keyPath("bucket", key), query: ODD_QUERY });
    expect(verifyRequest(req, opts)).toMatchObject({ identity: { accessKey: "AKMINIS3TEST" }, payload: { kind: "sha256" } });
  });

  test.each(ODD_KEYS)("PUT of %j with its payload hash verifies, and the payload is that hash", async (key) => {
    const req = await smithySigned({
      method: "PUT",
      path: keyPath("bucket", key),
      body: "hello",
      headers: { "content-type": "text/plain", "x-amz-meta-colour": "  blue   green " },
    });
    expect(verifyRequest(req, opts).payload).toEqual({
      kind: "sha256",
      sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    });
  });

  test("UNSIGNED-PAYLOAD verifies", async () => {
    const req = await smithySigned({
      method: "PUT",
      path: keyPath("b", "k"),
      headers: { "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-length": "5" },
    });
    expect(verifyRequest(req, opts).payload).toEqual({ kind: "unsigned" });
  });

  test.each(["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"])(
    "%s: the seed verifies and names the body's form",
    async (form) => {
      const req = await smithySigned({
        method: "PUT",
        path: keyPath("b", "k"),
        headers: { "x-amz-content-sha256": form, "content-encoding": "aws-chunked", "x-amz-decoded-content-length": "10" },
      });
      expect(verifyRequest(req, opts).payload).toEqual({
        kind: "chunked",
        signedChunks: !form.includes("UNSIGNED"),
        trailer: form.endsWith("TRAILER"),
      });
    },
  );

  test("a path sent with characters the SDK escapes left as they are (or escaped in lower case) verifies alike", async () => {
    const req = await smithySigned({ method: "GET", path: keyPath("b", "a!b(c)*'~.txt"), query: { p: "x y" } });
    expect(codeOf({ ...req, path: "/b/a!b(c)*'~.txt" })).toBe("ok");
    expect(codeOf({ ...req, path: "/b/a%21b%28c%29%2a%27%7e.txt" })).toBe("ok");
    expect(codeOf({ ...req, query: "p=x+y" })).toBe("ok");
  });

  test("a repeated header is signed as its values joined with ','; sent twice it verifies from the raw headers", async () => {
    const req = await smithySigned({ method: "GET", path: keyPath("b", "k"), headers: { "x-amz-meta-list": "one,two" } });
    const raw = Object.entries(req.headers).flatMap(([k, v]) =>
      k === "x-amz-meta-list" ? [k, "one", "X-Amz-Meta-List", " two "] : [k, v as string],
    );
    expect(codeOf({ ...req, headers: headersFromRaw(raw) })).toBe("ok");
    // node's IncomingMessage.headers would have joined them with ", ": not what was signed
    expect(codeOf({ ...req, headers: { ...req.headers, "x-amz-meta-list": "one, two" } })).toBe(ErrorCode.SignatureDoesNotMatch);
  });

  test("any single change fails: a header value, a query parameter, the path, the method, the body hash", async () => {
    const req = await smithySigned({
      method: "PUT",
      path: keyPath("bucket", "dir/key.txt"),
      query: { uploadId: "u1", partNumber: "2" },
      body: "part",
      headers: { "x-amz-meta-a": "1" },
    });
    expect(codeOf(req)).toBe("ok");
    const h = (change: HeaderMap): SignedRequest => ({ ...req, headers: { ...req.headers, ...change } });
    for (const changed of [
      h({ "x-amz-meta-a": "2" }),
      h({ host: "localhost:9001" }),
      h({ "x-amz-content-sha256": "0".repeat(64) }),
      { ...req, query: "uploadId=u1&partNumber=3" },
      { ...req, query: "uploadId=u1" },
      { ...req, query: "uploadId=u1&partNumber=2&extra=1" },
      { ...req, path: "/bucket/dir/key.txT" },
      { ...req, path: "/bucket/dir%2Fkey.txt" },
      { ...req, method: "POST" },
    ]) {
      expect(codeOf(changed)).toBe(ErrorCode.SignatureDoesNotMatch);
    }
    // the date: a second later is another signature; the credential's day must be the request's
    expect(codeOf(h({ "x-amz-date": "20261201T120001Z" }))).toBe(ErrorCode.SignatureDoesNotMatch);
    expect(codeOf(h({ "x-amz-date": "20261202T120000Z" }), { ...opts, now: Date.UTC(2026, 11, 2, 12) })).toBe(
      ErrorCode.AuthorizationHeaderMalformed,
    );
  });

  test("an x-amz-* header added after signing is refused (AccessDenied), as is an unsigned host", async () => {
    const req = await smithySigned({ method: "PUT", path: keyPath("b", "k"), body: "x" });
    expect(codeOf({ ...req, headers: { ...req.headers, "x-amz-meta-injected": "1" } })).toBe(ErrorCode.AccessDenied);
  });

  test("clock skew: 14 minutes either way verifies, 16 is RequestTimeTooSkewed", async () => {
    for (const [offsetMin, expected] of [
      [14, "ok"],
      [-14, "ok"],
      [16, ErrorCode.RequestTimeTooSkewed],
      [-16, ErrorCode.RequestTimeTooSkewed],
    ] as const) {
      const req = await smithySigned({ method: "GET", path: keyPath("b", "k") }, new Date(NOW + offsetMin * 60_000));
      expect(codeOf(req)).toBe(expected);
    }
  });

  test("an unknown access key is InvalidAccessKeyId; a wrong secret is SignatureDoesNotMatch", async () => {
    const req = await smithySigned({ method: "GET", path: keyPath("b", "k") });
    expect(codeOf(req, { ...opts, keys: KeyStore.single("AKSOMEONEELSE", credentials.secretAccessKey) })).toBe(
      ErrorCode.InvalidAccessKeyId,
    );
    expect(codeOf(req, { ...opts, keys: KeyStore.single(credentials.accessKeyId, "another-secret") })).toBe(
      ErrorCode.SignatureDoesNotMatch,
    );
  });

  test("a region other than the server's, when it has one, is AuthorizationHeaderMalformed", async () => {
    const req = await smithySigned({ method: "GET", path: keyPath("b", "k") });
    expect(codeOf(req, { ...opts, region: "us-east-1" })).toBe("ok");
    expect(codeOf(req, { ...opts, region: "eu-west-1" })).toBe(ErrorCode.AuthorizationHeaderMalformed);
  });

  test("no credentials at all is AccessDenied; SigV2 or a mangled header is AuthorizationHeaderMalformed", async () => {
    const req = await smithySigned({ method: "GET", path: keyPath("b", "k") });
    const { authorization, ...rest } = req.headers;
    expect(authorization).toBeDefined();
    expect(codeOf({ ...req, headers: rest })).toBe(ErrorCode.AccessDenied);
    for (const bad of [
      "AWS AKMINIS3TEST:c2lnbmF0dXJl",
      "AWS4-HMAC-SHA256 Credential=AKMINIS3TEST/20261201/us-east-1/s3/aws4_request, SignedHeaders=host",
      "AWS4-HMAC-SHA256 Credential=AKMINIS3TEST/20261201/us-east-1/aws4_request, SignedHeaders=host, Signature=" + "0".repeat(64),
      "AWS4-HMAC-SHA256 Credential=AKMINIS3TEST/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=xyz",
      "AWS4-HMAC-SHA256 Credential=AKMINIS3TEST/20261201/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature=" + "0".repeat(64),
    ]) {
      expect(codeOf({ ...req, headers: { ...rest, authorization: bad } })).toBe(ErrorCode.AuthorizationHeaderMalformed);
    }
  });

  describe("presigned URLs", () => {
    test.each(["GET", "PUT"])("%s verifies until it expires, then is AccessDenied", async (method) => {
      const req = await smithyPresigned(
        { method, path: keyPath("bucket", "odd key+~.txt"), query: { "x-id": method === "GET" ? "GetObject" : "PutObject" } },
        3600,
      );
      expect(verifyRequest(req, opts)).toMatchObject({ presigned: true, payload: { kind: "unsigned" } });
      expect(codeOf(req, { ...opts, now: NOW + 3600_000 })).toBe("ok");
      expect(codeOf(req, { ...opts, now: NOW + 3601_000 })).toBe(ErrorCode.AccessDenied);
      expect(codeOf(req, { ...opts, now: NOW - 16 * 60_000 })).toBe(ErrorCode.AccessDenied);
    });

    test("a changed parameter, path or expiry fails; an expiry over 7 days is refused", async () => {
      const req = await smithyPresigned({ method: "GET", path: keyPath("b", "k"), query: { "response-content-type": "text/plain" } }, 600);
      expect(codeOf({ ...req, query: req.query.replace("text%2Fplain", "text%2Fhtml") })).toBe(ErrorCode.SignatureDoesNotMatch);
      expect(codeOf({ ...req, query: req.query.replace("X-Amz-Expires=600", "X-Amz-Expires=6000") })).toBe(ErrorCode.SignatureDoesNotMatch);
      expect(codeOf({ ...req, path: "/b/k2" })).toBe(ErrorCode.SignatureDoesNotMatch);
      expect(codeOf({ ...req, query: req.query.replace("X-Amz-Expires=600", "X-Amz-Expires=604801") })).toBe(
        ErrorCode.AuthorizationQueryParametersError,
      );
      expect(codeOf({ ...req, query: req.query.replace(/X-Amz-Signature=[0-9a-f]+/, "X-Amz-Signature=zz") })).toBe(
        ErrorCode.AuthorizationQueryParametersError,
      );
      const week = await smithyPresigned({ method: "GET", path: keyPath("b", "k") }, 604800);
      expect(codeOf(week, { ...opts, now: NOW + 604800_000 })).toBe("ok");
    });

    test("an Authorization header and a presigned URL at once is refused", async () => {
      const req = await smithyPresigned({ method: "GET", path: keyPath("b", "k") }, 600);
      const signed = await smithySigned({ method: "GET", path: keyPath("b", "k") });
      expect(codeOf({ ...req, headers: { ...req.headers, authorization: signed.headers.authorization as string } })).toBe(
        ErrorCode.InvalidArgument,
      );
    });
  });
});

describe("aws4 (an independent signer)", () => {
  const live: VerifyOptions = { keys };

  test.each([
    ["/bucket/plain.txt", ""],
    ["/bucket/with%20space%2Bplus~tilde.txt", "?prefix=a%20b&delimiter=%2F&token=x%3Dy"],
    ["/bucket/%C3%BCn%C3%AFc%C3%B8d%C3%A9/%E6%97%A5%E6%9C%AC.bin", "?versions"],
  ])("GET %s%s verifies, and a changed query does not", (path, query) => {
    const req = aws4Signed({ method: "GET", path, rawPath: path + query });
    expect(codeOf(req, live)).toBe("ok");
    expect(codeOf({ ...req, query: req.query + "&x=1" }, live)).toBe(ErrorCode.SignatureDoesNotMatch);
  });

  test("PUT with a body verifies with its sha256; a changed header value does not", () => {
    const req = aws4Signed({
      method: "PUT",
      path: "/bucket/k",
      rawPath: "/bucket/k",
      body: "hello aws4",
      headers: { "Content-Type": "text/plain", "X-Amz-Meta-Note": "a  b" },
    });
    expect(verifyRequest(req, live).payload).toEqual({ kind: "sha256", sha256: createHash("sha256").update("hello aws4").digest("hex") });
    expect(codeOf({ ...req, headers: { ...req.headers, "content-type": "text/html" } }, live)).toBe(ErrorCode.SignatureDoesNotMatch);
  });

  test("a presigned GET (signQuery) verifies; a changed path does not", () => {
    const req = aws4Signed({ method: "GET", path: "/bucket/k", rawPath: "/bucket/k" }, true);
    expect(verifyRequest(req, live)).toMatchObject({ presigned: true, payload: { kind: "unsigned" } });
    expect(codeOf({ ...req, path: "/bucket/j" }, live)).toBe(ErrorCode.SignatureDoesNotMatch);
  });
});

describe("signRequest (MiniS3's own signer, used by the minis3 CLI)", () => {
  const creds = { accessKey: credentials.accessKeyId, secretKey: credentials.secretAccessKey };
  const signed = (method: string, path: string, query: string, extra: { payloadHash?: string; headers?: Record<string, string> } = {}) => ({
    method,
    path,
    query,
    headers: signRequest({ method, path, query, host: "localhost:8080", ...extra }, creds, NOW),
  });

  test.each(ODD_KEYS)("a request for %j with an odd query verifies, and a changed query does not", (key) => {
    const req = signed("GET", "/retrieve", `key=${encodeURIComponent(key)}&bucket=b%20c&prefix=a%2Bb`);
    expect(verifyRequest(req, opts)).toMatchObject({ identity: { accessKey: "AKMINIS3TEST" }, payload: { kind: "sha256" } });
    expect(codeOf({ ...req, query: req.query + "&x=1" })).toBe(ErrorCode.SignatureDoesNotMatch);
  });

  test("the same signature as aws4 for the same request and time", () => {
    const ours = signed("POST", "/upload", "key=dir%2Ff%20g.txt&bucket=b", {
      payloadHash: "UNSIGNED-PAYLOAD",
      headers: { "content-type": "text/plain", "x-amz-meta-colour": "blue" },
    });
    const theirs = aws4.sign(
      {
        host: "localhost:8080",
        method: "POST",
        path: "/upload?key=dir%2Ff%20g.txt&bucket=b",
        service: "s3",
        region: "us-east-1",
        headers: {
          "content-type": "text/plain",
          "x-amz-meta-colour": "blue",
          "x-amz-date": ours.headers["x-amz-date"],
          "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        },
      },
      credentials,
    );
    expect(ours.headers.authorization).toBe((theirs.headers as Record<string, string>).Authorization);
  });

  test("a body's signed sha256 is what the verifier then checks the body against; UNSIGNED-PAYLOAD is unsigned", () => {
    const sha = createHash("sha256").update("body").digest("hex");
    expect(verifyRequest(signed("POST", "/upload", "key=k", { payloadHash: sha }), opts).payload).toEqual({ kind: "sha256", sha256: sha });
    expect(verifyRequest(signed("POST", "/upload", "key=k", { payloadHash: "UNSIGNED-PAYLOAD" }), opts).payload).toEqual({
      kind: "unsigned",
    });
  });

  test("another secret does not verify", () => {
    const req = { ...signed("GET", "/stat", "key=k") };
    req.headers = signRequest(
      { method: "GET", path: "/stat", query: "key=k", host: "localhost:8080" },
      { ...creds, secretKey: "wrong-secret" },
      NOW,
    );
    expect(codeOf(req)).toBe(ErrorCode.SignatureDoesNotMatch);
  });
});
