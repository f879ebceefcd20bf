import { Readable } from "node:stream";
import type { Dispatcher, Pool } from "undici";
import { failure, type Outcome } from "./client";

// A large upload as the stock tools send a big file (aws cli, rclone, the SDKs' lib-storage):
// CreateMultipartUpload, the parts PUT several at once, then CompleteMultipartUpload naming each
// part's ETag; on any failure AbortMultipartUpload, as they do. Each call's status, headers and body
// are read through undici's own `pool.request()`: dispatch.ts's `send` gives neither the ETag header
// nor the XML, and its savings matter for 4 KiB objects, not for a handful of calls per 64 MiB.

export interface MultipartShape {
  /** Bytes of each part (the last may be shorter). */
  partBytes: number;
  /** Parts PUT at once. */
  inFlight: number;
}

/** aws cli's defaults: multipart_chunksize 8 MiB, max_concurrent_requests 10. */
export const AWS_CLI_MULTIPART: MultipartShape = { partBytes: 8 * 2 ** 20, inFlight: 10 };

/** SigV4 headers for a request; the path carries its query, which is signed with it. */
export type Signer = (method: string, pathAndQuery: string, headers: Record<string, string>) => Record<string, string>;

export interface Part {
  number: number;
  /** The body's own pieces, sliced where a part ends, never copied. */
  pieces: Buffer[];
  bytes: number;
}

/** The body cut into parts of `partBytes`, numbered from 1; at least one part (an empty body's is empty). */
export async function* partsOf(body: Buffer | Iterable<Buffer> | AsyncIterable<Buffer>, partBytes: number): AsyncGenerator<Part> {
  let pieces: Buffer[] = [];
  let held = 0;
  let number = 0;
  for await (const chunk of Buffer.isBuffer(body) ? [body] : body) {
    let rest = chunk;
    while (held + rest.length >= partBytes) {
      const take = partBytes - held;
      pieces.push(rest.subarray(0, take));
      yield { number: ++number, pieces, bytes: partBytes };
      pieces = [];
      held = 0;
      rest = rest.subarray(take);
    }
    if (rest.length) {
      pieces.push(rest);
      held += rest.length;
    }
  }
  if (held > 0 || number === 0) yield { number: ++number, pieces, bytes: held };
}

interface Answer {
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  text: string;
}

const is2xx = (status: number) => status >= 200 && status < 300;

/** The text of the first `<name>` element of an S3 document (no nesting in the ones read here). */
function element(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? unescapeXml(m[1]) : undefined;
}

const unescapeXml = (s: string) =>
  s.replace(/&(quot|apos|lt|gt|amp);/g, (_, e: string) => ({ quot: '"', apos: "'", lt: "<", gt: ">", amp: "&" })[e]!);

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A failed step: its name, the status, and the S3 error code of the body when there is one. */
function failed(step: string, a: Answer, why = `http ${a.status}`): Outcome {
  const code = element(a.text, "Code");
  return { ok: false, status: a.status, reason: `${step}: ${why}${code ? ` ${code}` : ""}` };
}

/** The Complete request's body, parts in ascending order as S3 requires (botocore's form, namespace included). */
export function completeXml(etags: readonly string[]): string {
  const parts = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(etag)}</ETag></Part>`);
  return `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts.join("")}</CompleteMultipartUpload>`;
}

/**
 * Uploads `body` (`length` bytes) to `path` (/bucket/key, encoded) in parts of `shape.partBytes`,
 * `shape.inFlight` at once. Ok only once CompleteMultipartUpload answered a result, not an error.
 */
export async function multipartUpload(
  pool: Pool,
  sign: Signer,
  path: string,
  body: Buffer | Iterable<Buffer> | AsyncIterable<Buffer>,
  length: number,
  shape: MultipartShape = AWS_CLI_MULTIPART,
): Promise<Outcome> {
  const call = async (
    method: "POST" | "PUT" | "DELETE",
    pathAndQuery: string,
    headers: Record<string, string>,
    data?: string | Readable,
  ) => {
    const res = await pool.request({ path: pathAndQuery, method, headers: sign(method, pathAndQuery, headers), body: data });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() } satisfies Answer;
  };
  let uploadId: string | undefined;
  let step = "CreateMultipartUpload";
  const thrown = (e: unknown, where: string): Outcome => {
    const f = failure(e);
    return { ...f, reason: `${where}: ${f.reason}` };
  };
  const upload = async (): Promise<Outcome> => {
    const created = await call("POST", `${path}?uploads`, { "content-type": "application/octet-stream" });
    if (!is2xx(created.status)) return failed(step, created);
    uploadId = element(created.text, "UploadId");
    if (!uploadId) return failed(step, created, "no UploadId in the answer");
    const ofUpload = `uploadId=${encodeURIComponent(uploadId)}`;

    // `inFlight` workers, each taking the next part as it is done with one: parts start in order.
    step = "UploadPart";
    const etags: string[] = [];
    let sent = 0;
    let stop: Outcome | undefined;
    const parts = partsOf(body, shape.partBytes);
    const worker = async () => {
      while (!stop) {
        const next = await parts.next();
        if (next.done) return;
        const { number, pieces, bytes } = next.value;
        sent += bytes;
        const a = await call(
          "PUT",
          `${path}?partNumber=${number}&${ofUpload}`,
          { "content-length": String(bytes) },
          Readable.from(pieces, { objectMode: false }),
        );
        const etag = a.headers.etag;
        if (!is2xx(a.status)) stop ??= failed(`UploadPart ${number}`, a);
        else if (typeof etag !== "string" || !etag) stop ??= failed(`UploadPart ${number}`, a, "no ETag header");
        else etags[number - 1] = etag;
      }
    };
    // A worker that throws (a reset connection) stops the others taking parts: the first failure is the outcome.
    await Promise.all(Array.from({ length: shape.inFlight }, () => worker().catch((e) => void (stop ??= thrown(e, step)))));
    if (stop) return stop;
    if (sent !== length) return { ok: false, reason: `UploadPart: the body was ${sent} bytes, ${length} declared` };

    step = "CompleteMultipartUpload";
    const xml = completeXml(etags);
    const done = await call(
      "POST",
      `${path}?${ofUpload}`,
      {
        "content-type": "application/xml",
        "content-length": String(Buffer.byteLength(xml)),
      },
      xml,
    );
    if (!is2xx(done.status)) return failed(step, done);
    // A long Complete is answered 200 at once, then spaces, then the result or an <Error> document.
    if (done.text.includes("<Error>")) return failed(step, done, `${done.status} with <Error>`);
    if (!done.text.includes("<CompleteMultipartUploadResult")) return failed(step, done, `${done.status} without a result`);
    return { ok: true, status: done.status };
  };
  let out: Outcome;
  try {
    out = await upload();
  } catch (e) {
    out = thrown(e, step);
  }
  // Its parts would stay stored until swept: stock tools abort what they could not complete.
  if (!out.ok && uploadId !== undefined) {
    await call("DELETE", `${path}?uploadId=${encodeURIComponent(uploadId)}`, {}).catch(() => undefined);
  }
  return out;
}
