import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KeyStore } from "../services/auth/keys";
import { verifyRequest } from "../services/auth/sigv4/verify";
import { largeBodyChunks } from "./payload";
import { S3BenchClient } from "./s3-client";
import type { MultipartShape } from "./s3-multipart";

// The large-s3-multipart row's upload (s3-multipart.ts), against a small in-process server answering
// as S3 does: CreateMultipartUpload first, then each part once with at most `inFlight` at once, each
// request's signature covering its query, the Complete naming every part's ETag in order; any failure
// (a part's error, a 200 whose body is an <Error>) is the upload's, and the upload is then aborted.

const KEYS = { accessKey: "AKTEST", secretKey: "secret" };
const verifier = { keys: KeyStore.single(KEYS.accessKey, KEYS.secretKey) };
/** Characters a query must encode, escaped in the XML as S3 would. */
const UPLOAD_ID = "id+/=&1";
const PART_DELAY_MS = 30;

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  bytes: number;
  /** The signature verified (MiniS3's own verifier, over the path and query as sent), or why not. */
  signature: string;
}

let server: Server;
let origin: string;
let seen: Seen[] = [];
let inFlight = 0;
let maxInFlight = 0;
const parts = new Map<number, Buffer>();
let completed: Buffer | undefined;

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
const errorDoc = (code: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>no</Message></Error>`;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const isPart = req.method === "PUT" && url.searchParams.has("partNumber");
    if (isPart) maxInFlight = Math.max(maxInFlight, ++inFlight);
    const body: Buffer[] = [];
    req.on("data", (c: Buffer) => body.push(c));
    req.on("end", () => {
      const data = Buffer.concat(body);
      const rawQuery = (req.url ?? "").split("?")[1] ?? "";
      let signature = "ok";
      try {
        verifyRequest({ method: req.method ?? "", path: url.pathname, query: rawQuery, headers: req.headers }, verifier);
      } catch (e) {
        signature = (e as Error).message;
      }
      seen.push({ method: req.method ?? "", path: url.pathname, query: url.searchParams, bytes: data.length, signature });
      const key = url.pathname.split("/").pop();
      const q = url.searchParams;
      if (req.method === "POST" && q.has("uploads")) {
        if (key === "denied") return void res.writeHead(403).end(errorDoc("AccessDenied"));
        const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>${key}</Key><UploadId>id+/=&amp;1</UploadId></InitiateMultipartUploadResult>`;
        return void res.writeHead(200, { "content-type": "application/xml" }).end(xml);
      }
      if (q.get("uploadId") !== UPLOAD_ID) return void res.writeHead(404).end(errorDoc("NoSuchUpload"));
      if (isPart) {
        const n = Number(q.get("partNumber"));
        return void setTimeout(() => {
          inFlight--;
          if (key === "bad-part" && n === 2) return void res.writeHead(503).end(errorDoc("SlowDown"));
          parts.set(n, data);
          res.writeHead(200, { etag: `"${md5(data)}"` }).end();
        }, PART_DELAY_MS);
      }
      if (req.method === "DELETE") return void res.writeHead(204).end();
      // CompleteMultipartUpload: every part named must be stored with that ETag, in ascending order.
      const named = [...data.toString().matchAll(/<Part><PartNumber>(\d+)<\/PartNumber><ETag>([^<]*)<\/ETag><\/Part>/g)];
      const pieces = named.map(([, n, etag]) => {
        const part = parts.get(Number(n));
        return part && etag === `"${md5(part)}"` ? part : undefined;
      });
      if (!named.length || pieces.includes(undefined)) return void res.writeHead(400).end(errorDoc("InvalidPart"));
      // A long Complete, as S3 and MiniS3 answer one: 200 and the declaration at once, spaces, then the outcome.
      res.writeHead(200, { "content-type": "application/xml" });
      res.write('<?xml version="1.0" encoding="UTF-8"?>\n');
      res.write("  ");
      if (key === "error-in-200") return void res.end("<Error><Code>InternalError</Code><Message>failed late</Message></Error>");
      completed = Buffer.concat(pieces as Buffer[]);
      res.end(`<CompleteMultipartUploadResult><Bucket>bkt</Bucket><Key>${key}</Key><ETag>"x-1"</ETag></CompleteMultipartUploadResult>`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  seen = [];
  inFlight = maxInFlight = 0;
  parts.clear();
  completed = undefined;
});

const small: MultipartShape = { partBytes: 1000, inFlight: 3 };

async function upload(key: string, body: Iterable<Buffer>, length: number, shape = small) {
  const client = new S3BenchClient(origin, "bkt", KEYS, shape.inFlight, 5_000, false, "multipart", shape);
  try {
    return await client.upload(key, body, length);
  } finally {
    await client.close();
  }
}

/** `body` in uneven pieces, none aligned with a part's end. */
function* unevenly(body: Buffer, piece = 333): Generator<Buffer> {
  for (let at = 0; at < body.length; at += piece) yield body.subarray(at, at + piece);
}

const calls = () =>
  seen.map((s) => `${s.method} ${[...s.query.keys()].join("&")}${s.query.has("partNumber") ? ` ${s.query.get("partNumber")}` : ""}`);

describe("a multipart upload", () => {
  test("creates, sends every part with at most inFlight at once, and completes with their ETags", async () => {
    const body = randomBytes(10_500);
    expect(await upload("obj", unevenly(body), body.length)).toEqual({ ok: true, status: 200 });

    expect(calls()[0]).toBe("POST uploads");
    // Each part once, the body's bytes under the right numbers (the object assembled is the body).
    const puts = seen
      .filter((s) => s.method === "PUT")
      .sort((a, b) => Number(a.query.get("partNumber")) - Number(b.query.get("partNumber")));
    expect(puts.map((p) => Number(p.query.get("partNumber")))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(puts.map((p) => p.bytes)).toEqual([...Array(10).fill(1000), 500]);
    expect(maxInFlight).toBe(3);
    expect(calls().at(-1)).toBe("POST uploadId");
    expect(seen).toHaveLength(13);
    expect(completed?.equals(body)).toBe(true);
    // Every request signed for its own query: the upload id, escaped in the XML, sent encoded.
    for (const s of seen) expect(s.signature).toBe("ok");
    expect(puts.every((p) => p.query.get("uploadId") === UPLOAD_ID)).toBe(true);
  });

  test("aws cli's shape by default: 8 MiB parts, the last one short, all of them in flight at once", async () => {
    const size = 2 * 8 * 2 ** 20 + 5;
    const expected = createHash("sha256");
    for (const c of largeBodyChunks(size, 42)) expected.update(c);
    const client = new S3BenchClient(origin, "bkt", KEYS, 10, 5_000, false, "multipart");
    try {
      expect(await client.upload("big", largeBodyChunks(size, 42), size)).toEqual({ ok: true, status: 200 });
    } finally {
      await client.close();
    }
    const sizes = new Map(seen.filter((s) => s.method === "PUT").map((p) => [Number(p.query.get("partNumber")), p.bytes]));
    expect([1, 2, 3].map((n) => sizes.get(n))).toEqual([8 * 2 ** 20, 8 * 2 ** 20, 5]);
    expect(maxInFlight).toBe(3);
    expect(createHash("sha256").update(completed!).digest("hex")).toBe(expected.digest("hex"));
  });

  test("a part's error fails the upload with its status and code; no Complete, an Abort instead", async () => {
    const body = randomBytes(5000);
    expect(await upload("bad-part", unevenly(body), body.length)).toEqual({
      ok: false,
      status: 503,
      reason: "UploadPart 2: http 503 SlowDown",
    });
    expect(calls().filter((c) => c.startsWith("POST"))).toEqual(["POST uploads"]);
    expect(calls().at(-1)).toBe("DELETE uploadId");
    expect(seen.at(-1)!.signature).toBe("ok");
  });

  test("a 200 whose body is an <Error> document is a failure, and the upload is aborted", async () => {
    const body = randomBytes(2500);
    expect(await upload("error-in-200", unevenly(body), body.length)).toEqual({
      ok: false,
      status: 200,
      reason: "CompleteMultipartUpload: 200 with <Error> InternalError",
    });
    expect(calls().slice(-2)).toEqual(["POST uploadId", "DELETE uploadId"]);
  });

  test("a refused Create sends nothing else", async () => {
    expect(await upload("denied", unevenly(randomBytes(2000)), 2000)).toEqual({
      ok: false,
      status: 403,
      reason: "CreateMultipartUpload: http 403 AccessDenied",
    });
    expect(calls()).toEqual(["POST uploads"]);
  });

  test("a body shorter than declared is not completed", async () => {
    const body = randomBytes(2500);
    expect(await upload("short", unevenly(body), 3000)).toMatchObject({
      ok: false,
      reason: "UploadPart: the body was 2500 bytes, 3000 declared",
    });
    expect(calls().at(-1)).toBe("DELETE uploadId");
    expect(calls()).not.toContain("POST uploadId");
  });
});
