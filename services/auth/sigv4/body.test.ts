// The body decoder: aws-chunked in its three forms, checksums in headers and trailers, framing,
// lengths, and reads split anywhere (a chunk header, a CRLF or a trailer across two reads).
import { createHash, createHmac, randomBytes } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { ErrorCode, hasCode } from "../../common/errors";
import { checksumOf, type ChecksumAlgorithm } from "../checksums";
import { KeyStore } from "../keys";
import { decode, pieces } from "../testing/sigv4-fixtures";
import { authenticatedBody, checkedBody } from "./body";
import type { HeaderMap } from "./canonical";
import { verifyRequest, type Verified } from "./verify";

const credentials = { accessKeyId: "AKMINIS3TEST", secretAccessKey: "minis3-test-secret" };
const keys = KeyStore.single(credentials.accessKeyId, credentials.secretAccessKey);
const NOW = Date.UTC(2026, 11, 1, 12);
const smithy = new SignatureV4({ credentials, region: "us-east-1", service: "s3", sha256: Sha256, uriEscapePath: false });

const ALGORITHMS: ChecksumAlgorithm[] = ["crc32", "crc32c", "sha1", "sha256"];

/** A request signed by the SDK's signer with these headers, verified: what the decoder is given. */
async function verified(headers: Record<string, string>): Promise<{ v: Verified; headers: HeaderMap }> {
  const signed = await smithy.sign(
    { method: "PUT", protocol: "http:", hostname: "localhost", path: "/b/k", query: {}, headers: { host: "localhost", ...headers } },
    { signingDate: new Date(NOW) },
  );
  const h: Record<string, string> = {};
  for (const [k, val] of Object.entries(signed.headers)) h[k.toLowerCase()] = String(val);
  return { v: verifyRequest({ method: "PUT", path: "/b/k", query: "", headers: h }, { keys, now: NOW }), headers: h };
}

function chunksOf(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

const hmacHex = (key: Buffer, s: string) => createHmac("sha256", key).update(s).digest("hex");
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** An aws-chunked body signed chunk by chunk (AWS's formula, written out here on its own), optionally with a signed trailer. */
function signedChunked(
  v: Verified,
  data: Buffer,
  chunkSize: number,
  trailer?: Array<[string, string]>,
  tamper?: (i: number, sig: string) => string,
): Buffer {
  const { key, amzDate, scope } = v.signing;
  let previous = v.signing.seedSignature;
  const parts: Buffer[] = [];
  const chunks = [...chunksOf(data, chunkSize), Buffer.alloc(0)];
  chunks.forEach((chunk, i) => {
    const signature = hmacHex(key, `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previous}\n${sha("")}\n${sha(chunk)}`);
    previous = signature;
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${tamper ? tamper(i, signature) : signature}\r\n`), chunk);
    if (chunk.length > 0 || !trailer) parts.push(Buffer.from("\r\n"));
  });
  if (trailer) {
    const canonical = trailer.map(([n, val]) => `${n}:${val}\n`).join("");
    const signature = hmacHex(key, `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${previous}\n${sha(canonical)}`);
    parts.push(Buffer.from(trailer.map(([n, val]) => `${n}:${val}\r\n`).join("") + `x-amz-trailer-signature:${signature}\r\n\r\n`));
  }
  return Buffer.concat(parts);
}

/** An unsigned aws-chunked body with a trailer, byte for byte as the JavaScript SDK v3 sends it. */
function unsignedChunked(data: Buffer, chunkSize: number, trailer: Array<[string, string]>): Buffer {
  const parts = chunksOf(data, chunkSize).map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from("\r\n")]));
  parts.push(Buffer.from("0\r\n" + trailer.map(([n, val]) => `${n}:${val}\r\n`).join("") + "\r\n"));
  return Buffer.concat(parts);
}

async function expectCode(p: ReturnType<typeof decode>, code: ErrorCode): Promise<void> {
  const r = await p;
  if (!("error" in r)) throw new Error(`expected ${code}, the body decoded`);
  if (!hasCode(r.error, code)) throw r.error;
}

const data = randomBytes(150_000);

describe("checksums", () => {
  test("CRC32, CRC32C, SHA1, SHA256 of 'hello world' as S3 writes them (base64, big-endian)", () => {
    const hw = Buffer.from("hello world");
    expect(checksumOf("crc32", hw)).toBe("DUoRhQ==");
    expect(checksumOf("crc32c", hw)).toBe("yZRlqg==");
    expect(checksumOf("sha1", hw)).toBe(createHash("sha1").update(hw).digest("base64"));
    expect(checksumOf("sha256", hw)).toBe(createHash("sha256").update(hw).digest("base64"));
  });
});

describe("STREAMING-UNSIGNED-PAYLOAD-TRAILER (the JavaScript SDK's stream uploads)", () => {
  const headersFor = (algorithm: ChecksumAlgorithm, length = data.length) => ({
    "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "content-encoding": "aws-chunked",
    "x-amz-trailer": `x-amz-checksum-${algorithm}`,
    "x-amz-decoded-content-length": String(length),
  });

  test.each(ALGORITHMS)(
    "with an x-amz-checksum-%s trailer it decodes, in reads of any size, and the checksum is checked",
    async (algorithm) => {
      const { v, headers } = await verified(headersFor(algorithm));
      const body = unsignedChunked(data, 65536, [[`x-amz-checksum-${algorithm}`, checksumOf(algorithm, data)]]);
      for (const size of [7, 4096, body.length]) {
        const r = await decode(v, headers, body, size);
        if ("error" in r) throw r.error;
        expect(r.bytes.equals(data)).toBe(true);
        expect(r.decoder.checksums[algorithm]).toBe(checksumOf(algorithm, data));
      }
    },
  );

  test("the decoded bytes are the reads themselves or slices of them, never copies; a read that is all data goes on whole", async () => {
    // The reads carry 1 MiB chunks framed: most reads are all data, some end one chunk and start the next.
    const big = randomBytes(4 * 1024 * 1024);
    const { v, headers } = await verified(headersFor("crc32", big.length));
    const reads = pieces(unsignedChunked(big, 1024 * 1024, [["x-amz-checksum-crc32", checksumOf("crc32", big)]]), 65536);
    async function* slowly(): AsyncGenerator<Buffer> {
      for (const r of reads) {
        yield r;
        await new Promise((resolve) => setImmediate(resolve)); // the engine waits for its replicas meanwhile
      }
    }
    const out: Buffer[] = [];
    for await (const piece of checkedBody(slowly(), authenticatedBody(v, headers))) out.push(piece);
    expect(Buffer.concat(out).equals(big)).toBe(true);
    const reused = new Set(reads.map((r) => r.buffer));
    expect(out.filter((piece) => !reused.has(piece.buffer)).length).toBe(0);
    const whole = out.filter((piece) => reads.includes(piece)).length;
    expect(whole).toBeGreaterThanOrEqual(reads.length - 2 * 5); // at most two reads per chunk boundary are cut
  });

  test("a line cut by the end of a read is kept as a copy: the decoder holds no view of a read it has given back", async () => {
    const small = data.subarray(0, 3000);
    const { v, headers } = await verified(headersFor("crc32", small.length));
    const body = unsignedChunked(small, 1000, [["x-amz-checksum-crc32", checksumOf("crc32", small)]]);
    for (const size of [3, 7, 1009]) {
      const decoder = authenticatedBody(v, headers);
      const out: Buffer[] = [];
      for (const r of pieces(Buffer.from(body), size)) {
        out.push(...decoder.decodePiece(r).map((p) => Buffer.from(p)));
        r.fill(0x2a); // the read's memory reused, as a freed piece's would be
      }
      decoder.checkEnd();
      expect(Buffer.concat(out).equals(small)).toBe(true);
    }
  });

  test("every byte its own read: still decodes", async () => {
    const small = data.subarray(0, 2000);
    const { v, headers } = await verified(headersFor("crc32c", small.length));
    const r = await decode(v, headers, unsignedChunked(small, 700, [["x-amz-checksum-crc32c", checksumOf("crc32c", small)]]), 1);
    expect("bytes" in r && r.bytes.equals(small)).toBe(true);
  });

  test("a wrong trailer checksum is BadDigest; a missing trailer or an undeclared one is refused", async () => {
    const { v, headers } = await verified(headersFor("crc32"));
    await expectCode(decode(v, headers, unsignedChunked(data, 65536, [["x-amz-checksum-crc32", "AAAAAA=="]]), 1000), ErrorCode.BadDigest);
    await expectCode(decode(v, headers, unsignedChunked(data, 65536, [])), ErrorCode.IncompleteBody);
    const other = unsignedChunked(data, 65536, [
      ["x-amz-checksum-crc32", checksumOf("crc32", data)],
      ["x-amz-meta-late", "1"],
    ]);
    await expectCode(decode(v, headers, other), ErrorCode.InvalidArgument);
  });

  test("a CRC64NVME trailer (not supported) is refused before any byte is read", async () => {
    const { v, headers } = await verified({ ...headersFor("crc32"), "x-amz-trailer": "x-amz-checksum-crc64nvme" });
    expect(() => authenticatedBody(v, headers)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });
});

describe("STREAMING-AWS4-HMAC-SHA256-PAYLOAD (signed chunks)", () => {
  const streamingHeaders = (length = data.length) => ({
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": String(length),
  });

  test("decodes with chunk boundaries, chunk headers and CRLFs split across reads", async () => {
    const { v, headers } = await verified(streamingHeaders());
    const body = signedChunked(v, data, 8192);
    for (const size of [89, 8192, 8193, 65536]) {
      const r = await decode(v, headers, body, size);
      if ("error" in r) throw r.error;
      expect(r.bytes.equals(data)).toBe(true);
    }
    // every byte its own read, on a small body
    const small = await verified(streamingHeaders(3000));
    const r = await decode(small.v, small.headers, signedChunked(small.v, data.subarray(0, 3000), 1000), 1);
    expect("bytes" in r && r.bytes.equals(data.subarray(0, 3000))).toBe(true);
  });

  test("a tampered byte, a tampered signature, or the seed's signature reused fails with SignatureDoesNotMatch", async () => {
    const { v, headers } = await verified(streamingHeaders());
    const body = signedChunked(v, data, 65536);
    const flipped = Buffer.from(body);
    flipped[70_000] ^= 1;
    await expectCode(decode(v, headers, flipped), ErrorCode.SignatureDoesNotMatch);
    const badSig = signedChunked(v, data, 65536, undefined, (i, s) => (i === 1 ? s.replace(/^./, (c) => (c === "0" ? "1" : "0")) : s));
    await expectCode(decode(v, headers, badSig), ErrorCode.SignatureDoesNotMatch);
    const badLast = signedChunked(v, data, 65536, undefined, (i, s) => (i === 3 ? v.signing.seedSignature : s));
    await expectCode(decode(v, headers, badLast), ErrorCode.SignatureDoesNotMatch);
  });

  test("broken framing, a truncated body and a wrong decoded length are IncompleteBody", async () => {
    const { v, headers } = await verified(streamingHeaders());
    const body = signedChunked(v, data, 65536);
    const text = body.toString("latin1");
    await expectCode(decode(v, headers, body.subarray(0, body.length - 10)), ErrorCode.IncompleteBody);
    await expectCode(decode(v, headers, Buffer.from(text.replace(/^10000;/, "1000g;"), "latin1")), ErrorCode.IncompleteBody);
    await expectCode(
      decode(v, headers, Buffer.from(text.replace(/^10000;chunk-signature=/, "10000;chunk-signatur="), "latin1")),
      ErrorCode.IncompleteBody,
    );
    const noCrlf = Buffer.concat([body.subarray(0, 88 + 65536), body.subarray(88 + 65536 + 2)]);
    await expectCode(decode(v, headers, noCrlf), ErrorCode.IncompleteBody);
    await expectCode(decode(v, headers, Buffer.concat([body, Buffer.from("extra")])), ErrorCode.IncompleteBody);
    await expectCode(decode(v, headers, Buffer.from("a".repeat(5000))), ErrorCode.IncompleteBody);
    const short = await verified(streamingHeaders(data.length - 1));
    await expectCode(decode(short.v, short.headers, signedChunked(short.v, data, 65536)), ErrorCode.IncompleteBody);
    const long = await verified(streamingHeaders(data.length + 1));
    await expectCode(decode(long.v, long.headers, signedChunked(long.v, data, 65536)), ErrorCode.IncompleteBody);
  });

  test("bounded memory: a 4 MiB chunk read in 64 KiB pieces comes out in pieces no larger", async () => {
    const big = randomBytes(4 * 1024 * 1024);
    const { v, headers } = await verified(streamingHeaders(big.length));
    const r = await decode(v, headers, signedChunked(v, big, big.length), 65536);
    if ("error" in r) throw r.error;
    expect(r.bytes.equals(big)).toBe(true);
    expect(r.largestPiece).toBeLessThanOrEqual(65536);
  });
});

describe("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (signed chunks and a signed trailer)", () => {
  const trailerHeaders = (algorithm: ChecksumAlgorithm) => ({
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "content-encoding": "aws-chunked",
    "x-amz-trailer": `x-amz-checksum-${algorithm}`,
    "x-amz-decoded-content-length": String(data.length),
  });

  test.each(ALGORITHMS)("x-amz-checksum-%s: decodes and checks the trailer's signature and value", async (algorithm) => {
    const { v, headers } = await verified(trailerHeaders(algorithm));
    const body = signedChunked(v, data, 65536, [[`x-amz-checksum-${algorithm}`, checksumOf(algorithm, data)]]);
    for (const size of [5, 65536]) {
      const r = await decode(v, headers, body, size);
      if ("error" in r) throw r.error;
      expect(r.bytes.equals(data)).toBe(true);
    }
  });

  test("a trailer value changed after signing fails its signature; a wrong value signed is BadDigest", async () => {
    const { v, headers } = await verified(trailerHeaders("crc32"));
    const good = signedChunked(v, data, 65536, [["x-amz-checksum-crc32", checksumOf("crc32", data)]]).toString("latin1");
    const changed = good.replace(/x-amz-checksum-crc32:[^\r]+/, "x-amz-checksum-crc32:AAAAAA==");
    await expectCode(decode(v, headers, Buffer.from(changed, "latin1")), ErrorCode.SignatureDoesNotMatch);
    await expectCode(decode(v, headers, signedChunked(v, data, 65536, [["x-amz-checksum-crc32", "AAAAAA=="]])), ErrorCode.BadDigest);
    const unsigned = good.replace(/x-amz-trailer-signature:[^\r]+\r\n/, "");
    await expectCode(decode(v, headers, Buffer.from(unsigned, "latin1")), ErrorCode.SignatureDoesNotMatch);
  });
});

describe("a plain body", () => {
  test("its sha256 payload, x-amz-checksum-* header and Content-MD5 are all checked", async () => {
    const body = Buffer.from("the plain body");
    const good = {
      "x-amz-content-sha256": sha(body),
      "x-amz-checksum-crc32c": checksumOf("crc32c", body),
      "content-md5": createHash("md5").update(body).digest("base64"),
    };
    const ok = await verified(good);
    const r = await decode(ok.v, ok.headers, body, 3);
    if ("error" in r) throw r.error;
    expect(r.decoder.checksums).toEqual({ crc32c: good["x-amz-checksum-crc32c"], md5: good["content-md5"] });
    const badCrc = await verified({ ...good, "x-amz-checksum-crc32c": "AAAAAA==" });
    await expectCode(decode(badCrc.v, badCrc.headers, body), ErrorCode.BadDigest);
    const badMd5 = await verified({ ...good, "content-md5": "AAAAAAAAAAAAAAAAAAAAAA==" });
    await expectCode(decode(badMd5.v, badMd5.headers, body), ErrorCode.BadDigest);
    await expectCode(decode(ok.v, ok.headers, Buffer.from("the plain bodY")), ErrorCode.XAmzContentSHA256Mismatch);
  });

  test("x-amz-checksum-mode (GetObject's request for checksums) is not taken for a checksum", async () => {
    const { v, headers } = await verified({ "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-checksum-mode": "ENABLED" });
    const r = await decode(v, headers, data, 1000);
    expect("bytes" in r && r.bytes.equals(data)).toBe(true);
  });

  test("its sha256 left to the store: handed over and no longer checked here; a checksum header still is", async () => {
    const body = Buffer.from("the plain body");
    const other = Buffer.from("the plain bodY");
    const signed = await verified({ "x-amz-content-sha256": sha(body) });
    const left = authenticatedBody(signed.v, signed.headers);
    expect(left.leaveToStore()).toEqual({ payloadSha256: sha(body), contentMd5: undefined });
    left.checkPiece(other); // the store's digest refuses it (object-store.test.ts)
    expect(() => left.checkEnd()).not.toThrow();
    const withCrc = await verified({ "x-amz-content-sha256": sha(body), "x-amz-checksum-crc32c": checksumOf("crc32c", body) });
    const leftWithCrc = authenticatedBody(withCrc.v, withCrc.headers);
    leftWithCrc.leaveToStore();
    leftWithCrc.checkPiece(other);
    expect(() => leftWithCrc.checkEnd()).toThrow(expect.objectContaining({ code: ErrorCode.BadDigest }));
    const unsigned = await verified({ "x-amz-content-sha256": "UNSIGNED-PAYLOAD" });
    expect(authenticatedBody(unsigned.v, unsigned.headers).leaveToStore()).toEqual({ payloadSha256: undefined, contentMd5: undefined });
  });

  test("UNSIGNED-PAYLOAD passes the bytes as they are", async () => {
    const { v, headers } = await verified({ "x-amz-content-sha256": "UNSIGNED-PAYLOAD" });
    const r = await decode(v, headers, data, 1000);
    expect("bytes" in r && r.bytes.equals(data)).toBe(true);
  });
});
