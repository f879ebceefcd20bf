import type { IncomingMessage } from "node:http";
import { ErrorCode, MiniS3Error } from "../../../common/errors";
import type { CompletedPart, MultipartEngine } from "../../objects/multipart-engine";
import type { ObjectView } from "../../objects/object-engine";
import { registerMultipartHandlers } from "./multipart-handlers";
import { S3Router, type S3Deps, type S3Reply, type S3Request } from "./router";

// The CompleteMultipartUpload handler's two ways of answering, with an engine whose Complete takes
// as long as a test says: at once with its status, or (past 2 s) 200 and the XML declaration
// first, then the result or an <Error> document in the body, as S3 does for long copies.
// The whole path with real clients is test/integration/s3-multipart.test.ts.

const OBJECT: ObjectView = {
  bucket: "b",
  key: "k",
  versionId: "v".repeat(28),
  size: 10,
  sha256: "0".repeat(64),
  etag: "0123456789abcdef0123456789abcdef-2",
  contentType: "application/octet-stream",
  tier: "hot",
  createdAtMs: 0,
  lastAccessedAtMs: 0,
  replicas: [],
  metadata: {},
};

const XML_BODY =
  "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag></Part>" +
  '<Part><PartNumber>2</PartNumber><ETag>"fedcba9876543210fedcba9876543210"</ETag></Part></CompleteMultipartUpload>';

/** A Complete handler over an engine whose complete() settles after `ms` with `outcome`. */
function completeHandler(ms: number, outcome: () => ObjectView) {
  const seen: CompletedPart[][] = [];
  const multipart = {
    complete: (_ref: unknown, parts: CompletedPart[]) => {
      seen.push(parts);
      return new Promise<ObjectView>((resolve, reject) =>
        setTimeout(() => {
          try {
            resolve(outcome());
          } catch (e) {
            reject(e);
          }
        }, ms),
      );
    },
  } as unknown as MultipartEngine;
  const router = new S3Router();
  registerMultipartHandlers(router, { multipart } as S3Deps);
  const query = new Map([["uploadId", "u".repeat(28)]]);
  const { handler } = router.match("POST", "object", query);
  const req = {
    method: "POST",
    bucket: "b",
    key: "k",
    query,
    headers: {},
    header: () => undefined,
    identity: { user: "test", buckets: "*" },
    requestId: "req-1",
    body: () =>
      (async function* () {
        yield Buffer.from(XML_BODY);
      })(),
    signal: new AbortController().signal,
    raw: {} as IncomingMessage,
  } as unknown as S3Request;
  return { call: () => handler(req), seen };
}

async function text(reply: S3Reply): Promise<string> {
  if (typeof reply.body === "string") return reply.body;
  const parts: Buffer[] = [];
  for await (const chunk of reply.body as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

test("a quick Complete answers with its status and the result; the part list's ETags are read as sent", async () => {
  const { call, seen } = completeHandler(10, () => OBJECT);
  const reply = await call();
  expect(reply.status ?? 200).toBe(200);
  expect(reply.headers?.["x-amz-version-id"]).toBe(OBJECT.versionId);
  expect(await text(reply)).toContain(`<ETag>&quot;${OBJECT.etag}&quot;</ETag>`);
  expect(seen[0]).toEqual([
    { partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' },
    { partNumber: 2, etag: '"fedcba9876543210fedcba9876543210"' },
  ]);
});

test("a quick Complete that fails throws (the server answers its status and error)", async () => {
  const { call } = completeHandler(10, () => {
    throw new MiniS3Error(ErrorCode.InvalidPart, "part 2 was not uploaded");
  });
  await expect(call()).rejects.toMatchObject({ code: ErrorCode.InvalidPart });
});

test("a long Complete answers 200 at once, then the result after the XML declaration", async () => {
  const { call } = completeHandler(2600, () => OBJECT);
  const reply = await call();
  expect(reply.status ?? 200).toBe(200);
  const body = await text(reply);
  expect(body.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
  expect(body.match(/<\?xml/g)).toHaveLength(1);
  expect(body).toMatch(/<CompleteMultipartUploadResult[^>]*>.*<ETag>&quot;0123456789abcdef0123456789abcdef-2&quot;<\/ETag>/s);
});

test("a long Complete that fails ends its 200 body with an S3 Error document", async () => {
  const { call } = completeHandler(2600, () => {
    throw new MiniS3Error(ErrorCode.QuorumNotReached, "only 1 replica took the upload");
  });
  const body = await text(await call());
  expect(body.match(/<\?xml/g)).toHaveLength(1);
  expect(body).toMatch(
    /<Error><Code>ServiceUnavailable<\/Code><Message>only 1 replica took the upload<\/Message>.*<RequestId>req-1<\/RequestId><\/Error>$/s,
  );
});
