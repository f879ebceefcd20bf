// The contract between the S3 endpoint's multipart handlers (api/s3/multipart-handlers.ts) and the
// engine's multipart uploads (multipart-store.ts). As with object-engine.ts, the API parses and
// the engine checks, throwing the typed errors of services/common/errors.ts (NoSuchUpload,
// InvalidPart, InvalidPartOrder, EntityTooSmall…).

import type { RequestId } from "../../common/request-context";
import type { ByteRange, ClientSignal, ExpectedDigests, ObjectView } from "./object-engine";

/** S3's limits: parts are numbered 1..10000, each at most 5 GiB; all but the last at least 5 MiB. */
export const MAX_PART_NUMBER = 10_000;
export const MAX_PART_SIZE = 5 * 1024 ** 3;
export const MIN_PART_SIZE = 5 * 1024 ** 2;

export interface CreateUploadInput {
  bucket: string;
  key: string;
  contentType: string;
  metadata: Record<string, string>;
}

export interface UploadRef {
  bucket: string;
  key: string;
  uploadId: string;
  /** The request at work on it (request-context.ts): the node ops and lines of a part, a Complete, an abort name it. */
  requestId?: RequestId;
}

export interface UploadPartInput extends UploadRef, ExpectedDigests {
  partNumber: number;
  /** Declared length: fewer or more bytes fail the part. */
  contentLength?: number;
  /** Pulled as fast as the nodes take it; throwing aborts the part (nothing recorded). */
  body: AsyncIterable<Buffer>;
  signal?: ClientSignal;
}

export interface UploadPartCopyInput extends UploadRef {
  partNumber: number;
  /** The source object; a version id reads that version (a trashed one too), as GetObject does. */
  source: { bucket: string; key: string; versionId?: string };
  /** x-amz-copy-source-range (bytes=first-last); the whole object when absent. */
  range?: ByteRange;
}

export interface PartView {
  partNumber: number;
  size: number;
  /** Hex md5 of the part's bytes (S3 sends it quoted). */
  etag: string;
  lastModifiedMs: number;
}

export interface PartListing extends UploadRef {
  parts: PartView[];
  /** The last part number listed (0 when none): the next page's part-number-marker. */
  nextPartNumberMarker: number;
  isTruncated: boolean;
}

export interface UploadSummary {
  key: string;
  uploadId: string;
  initiatedMs: number;
}

export interface UploadListing {
  uploads: UploadSummary[];
  isTruncated: boolean;
  /** Where the next page starts (S3's NextKeyMarker / NextUploadIdMarker); "" on the last page. */
  nextKeyMarker: string;
  nextUploadIdMarker: string;
}

export interface ListUploadsInput {
  bucket: string;
  prefix: string;
  keyMarker: string;
  uploadIdMarker: string;
  /** 1..1000; 0 means 1000. */
  maxUploads: number;
}

/** A part a Complete names: its number and the ETag the client got for it (quotes stripped). */
export interface CompletedPart {
  partNumber: number;
  etag: string;
}

export interface MultipartEngine {
  create(input: CreateUploadInput): Promise<UploadRef>;
  uploadPart(input: UploadPartInput): Promise<PartView>;
  uploadPartCopy(input: UploadPartCopyInput): Promise<PartView>;
  /**
   * Makes the object from the parts named, in order; its ETag is S3's multipart ETag. A second
   * Complete of an upload already completed (a client's retry) answers the same object.
   */
  complete(ref: UploadRef, parts: CompletedPart[]): Promise<ObjectView>;
  abort(ref: UploadRef): Promise<void>;
  /** Parts after `partNumberMarker`, at most `maxParts` (1..1000; 0 means 1000). */
  listParts(ref: UploadRef, maxParts: number, partNumberMarker: number): Promise<PartListing>;
  listUploads(input: ListUploadsInput): Promise<UploadListing>;
}
