// Multipart upload on the S3 endpoint: CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads. Parsing and XML
// only: the engine (objects/multipart-store.ts) checks and does the work.
import { TooLargeError } from "../../../common/errors";
import type { ByteRange, ObjectView } from "../../objects/object-engine";
import { MAX_PART_SIZE, type CompletedPart, type PartView, type UploadRef } from "../../objects/multipart-engine";
import { checkContentType, checkMetadata } from "../../objects/names";
import { bucketMissing } from "./bucket-ops";
import { parseCopySource } from "./copy-object";
import { metadataOf } from "./object-headers";
import { checkStorageClass, checksumHeaders, objectLength, objectOf } from "./object-request";
import type { S3Deps, S3Request, S3Router } from "./router";
import { S3Error, s3ErrorOf, s3Errors } from "./s3-errors";
import { asList, errorXml, parseXml, readXmlBody, s3Document, xmlText } from "./xml";
import { checkBucketAccess } from "../../../auth/keys";

const OCTET_STREAM = "application/octet-stream";
/** What ListParts and ListMultipartUploads name as initiator and owner (MiniS3 has users, not accounts). */
const ownerOf = (req: S3Request) => ({ ID: req.identity.user, DisplayName: req.identity.user });

const iso = (ms: number) => new Date(ms).toISOString();
const quoted = (etag: string) => `"${etag}"`;

export function registerMultipartHandlers(router: S3Router, deps: S3Deps): void {
  const { multipart } = deps;

  router.register({ name: "CreateMultipartUpload", method: "POST", target: "object", subresource: "uploads" }, async (req) => {
    const { bucket, key } = objectOf(req);
    checkStorageClass(req);
    const contentType = checkContentType(req.header("content-type") || OCTET_STREAM);
    const metadata = checkMetadata(metadataOf(req));
    await deps.buckets.headBucket(bucket); // NoSuchBucket, as for PutObject
    const ref = await multipart.create({ bucket, key, contentType, metadata });
    return xml(s3Document("InitiateMultipartUploadResult", { Bucket: ref.bucket, Key: ref.key, UploadId: ref.uploadId }));
  });

  // UploadPart, and UploadPartCopy (the same request with x-amz-copy-source).
  router.register({ name: "UploadPart", method: "PUT", target: "object", subresource: "uploadId" }, async (req) => {
    const ref = uploadOf(req);
    const partNumber = partNumberOf(req);
    const source = req.header("x-amz-copy-source");
    if (source !== undefined) {
      const from = parseCopySource(source);
      checkBucketAccess(req.identity, from.bucket);
      const range = copyRangeOf(req.header("x-amz-copy-source-range"));
      const part = await multipart
        .uploadPartCopy({ ...ref, partNumber, source: from, range })
        .catch(async (e) => Promise.reject(await bucketMissing(deps, from.bucket, e)));
      return xml(s3Document("CopyPartResult", { ETag: quoted(part.etag), LastModified: iso(part.lastModifiedMs) }));
    }
    const contentLength = objectLength(req);
    if (contentLength !== undefined && contentLength > MAX_PART_SIZE) {
      throw new TooLargeError(`a part may be at most ${MAX_PART_SIZE} bytes; this one declares ${contentLength}`);
    }
    const body = req.body({ digestsByStore: true });
    const part = await multipart.uploadPart({
      ...ref,
      partNumber,
      contentLength,
      body,
      ...body.leftToStore,
      signal: req.signal,
    });
    return { headers: { etag: quoted(part.etag), ...checksumHeaders(body) } };
  });

  router.register({ name: "CompleteMultipartUpload", method: "POST", target: "object", subresource: "uploadId" }, async (req) => {
    const ref = uploadOf(req);
    const doc = parseXml(await readXmlBody(req.body()), "CompleteMultipartUpload");
    const parts: CompletedPart[] = asList(doc.Part as Record<string, unknown> | Record<string, unknown>[] | undefined).map((p) => ({
      partNumber: partNumberText(String(p.PartNumber ?? "")),
      etag: xmlText(p.ETag), // the SDK for JavaScript sends the quotes as &quot;
    }));
    if (!parts.length) throw s3Errors.malformedXml("a CompleteMultipartUpload names at least one Part");
    const completing = multipart.complete(ref, parts);
    // Quick answers (a bad part list, a small object) come as usual: status and all.
    if (await settledWithin(completing, COMPLETE_PLAIN_ANSWER_MS)) {
      const object = await completing;
      return xml(completedXml(object), { "x-amz-version-id": object.versionId });
    }
    // A long copy: S3's way. 200 and the XML declaration now, a space every few seconds so no idle
    // timeout (ours is 2 min) cuts the connection, then the result, or an <Error> document.
    return { headers: { "content-type": "application/xml" }, body: keptAlive(completing, req) };
  });

  router.register({ name: "AbortMultipartUpload", method: "DELETE", target: "object", subresource: "uploadId" }, async (req) => {
    await multipart.abort(uploadOf(req));
    return { status: 204 };
  });

  router.register({ name: "ListParts", method: "GET", target: "object", subresource: "uploadId" }, async (req) => {
    const ref = uploadOf(req);
    const maxParts = intParam(req, "max-parts", 1000);
    const marker = intParam(req, "part-number-marker", 0);
    const page = await multipart.listParts(ref, maxParts, marker);
    return xml(
      s3Document("ListPartsResult", {
        Bucket: page.bucket,
        Key: page.key,
        UploadId: page.uploadId,
        Initiator: ownerOf(req),
        Owner: ownerOf(req),
        StorageClass: "STANDARD",
        PartNumberMarker: marker,
        NextPartNumberMarker: page.nextPartNumberMarker,
        MaxParts: Math.min(maxParts || 1000, 1000),
        IsTruncated: page.isTruncated,
        Part: page.parts.map(partXml),
      }),
    );
  });

  router.register({ name: "ListMultipartUploads", method: "GET", target: "bucket", subresource: "uploads" }, async (req) => {
    const bucket = req.bucket!;
    const prefix = req.query.get("prefix") ?? "";
    const keyMarker = req.query.get("key-marker") ?? "";
    const uploadIdMarker = keyMarker ? (req.query.get("upload-id-marker") ?? "") : "";
    const maxUploads = intParam(req, "max-uploads", 1000);
    const urlEncoded = req.query.get("encoding-type") === "url";
    const enc = (s: string) => (urlEncoded ? encodeURIComponent(s) : s);
    await deps.buckets.headBucket(bucket);
    const page = await multipart.listUploads({ bucket, prefix, keyMarker, uploadIdMarker, maxUploads });
    return xml(
      s3Document("ListMultipartUploadsResult", {
        Bucket: bucket,
        KeyMarker: enc(keyMarker),
        UploadIdMarker: uploadIdMarker,
        NextKeyMarker: enc(page.nextKeyMarker),
        NextUploadIdMarker: page.nextUploadIdMarker,
        Prefix: enc(prefix),
        MaxUploads: Math.min(maxUploads || 1000, 1000),
        IsTruncated: page.isTruncated,
        ...(urlEncoded ? { EncodingType: "url" } : {}),
        Upload: page.uploads.map((u) => ({
          Key: enc(u.key),
          UploadId: u.uploadId,
          Initiator: ownerOf(req),
          Owner: ownerOf(req),
          StorageClass: "STANDARD",
          Initiated: iso(u.initiatedMs),
        })),
      }),
    );
  });
}

/** How long a Complete may take and still answer with its status (beyond: 200, then keep-alive spaces). */
const COMPLETE_PLAIN_ANSWER_MS = 2000;
/** A space this often while a Complete copies (S3 sends one every few seconds too). */
const KEEPALIVE_MS = 5000;
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

function completedXml(object: ObjectView): string {
  return s3Document("CompleteMultipartUploadResult", {
    Location: `/${encodeURIComponent(object.bucket)}/${object.key.split("/").map(encodeURIComponent).join("/")}`,
    Bucket: object.bucket,
    Key: object.key,
    ETag: quoted(object.etag),
  });
}

/** True once `p` has settled (either way), false if `ms` passed first. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = p.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The body of a long Complete: the declaration, spaces while it runs, then its result or error. */
async function* keptAlive(completing: Promise<ObjectView>, req: S3Request): AsyncGenerator<Buffer> {
  yield Buffer.from(XML_DECLARATION);
  while (!(await settledWithin(completing, KEEPALIVE_MS))) yield Buffer.from(" ");
  let doc: string;
  try {
    doc = completedXml(await completing);
  } catch (e) {
    doc = errorXml(s3ErrorOf(e), `/${req.bucket}/${req.key}`, req.requestId);
  }
  yield Buffer.from(doc.startsWith(XML_DECLARATION) ? doc.slice(XML_DECLARATION.length) : doc);
}

function xml(body: string, headers: Record<string, string> = {}) {
  return { headers: { "content-type": "application/xml", ...headers }, body };
}

function partXml(p: PartView) {
  return { PartNumber: p.partNumber, LastModified: iso(p.lastModifiedMs), ETag: quoted(p.etag), Size: p.size };
}

function uploadOf(req: S3Request): UploadRef {
  const { bucket, key } = objectOf(req);
  return { bucket, key, uploadId: req.query.get("uploadId") ?? "", requestId: req.requestId };
}

function partNumberOf(req: S3Request): number {
  return partNumberText(req.query.get("partNumber") ?? "");
}

function partNumberText(text: string): number {
  if (!/^\d{1,5}$/.test(text.trim()))
    throw new S3Error("InvalidArgument", 400, `part number "${text}" must be an integer between 1 and 10000`);
  return Number(text.trim());
}

function intParam(req: S3Request, name: string, fallback: number): number {
  const text = req.query.get(name);
  if (text === undefined || text === "") return fallback;
  if (!/^\d{1,9}$/.test(text)) throw new S3Error("InvalidArgument", 400, `${name} must be a non-negative integer`);
  return Number(text);
}

/** x-amz-copy-source-range: "bytes=first-last" (both given, S3's rule). */
function copyRangeOf(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!m || Number(m[2]) < Number(m[1])) {
    throw new S3Error("InvalidArgument", 400, `x-amz-copy-source-range "${header}" must be bytes=first-last`);
  }
  return { offset: Number(m[1]), length: Number(m[2]) - Number(m[1]) + 1 };
}
