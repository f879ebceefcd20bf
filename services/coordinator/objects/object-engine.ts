// The contract between the coordinator's client APIs (HTTP facade, gRPC ObjectService, later S3)
// and the object engine that does the work. Both APIs validate nothing themselves beyond parsing:
// the engine throws the typed errors of services/common/errors.ts.

import type { ObjectView, Tier, TrashEntryView } from "../model/object-view";

// The views live in model/ (the catalogue maps its rows to them too); the contract names them.
export type { ObjectView, Tier, TrashEntryView };

export interface PutInput {
  bucket: string;
  key: string;
  contentType: string;
  /** Declared length (HTTP Content-Length, gRPC content_length): fewer or more bytes fail the upload. */
  contentLength?: number;
  metadata: Record<string, string>;
  /** Pulled as fast as the nodes take it: pulling is the backpressure. Throwing aborts the upload. */
  body: AsyncIterable<Buffer>;
  /**
   * Aborted when the client gave up. Checked once more just before the commit: a gRPC cancel can
   * arrive just after what looks like the body's end, and must still leave nothing behind.
   */
  signal?: AbortSignal;
  /**
   * The ETag to store instead of the body's md5: a multipart upload's ("<hex md5 of the parts'
   * md5s>-<part count>", S3's form). Set by the engine's multipart Complete, never from a client.
   */
  etag?: string;
}

/**
 * A range of an object's bytes, resolved by the engine against the version it reads (one lookup:
 * a size looked up before could belong to another version by then).
 */
export type ByteRange =
  | { offset: number; length?: number } // to the end when length is absent
  | { suffix: number }; // the last `suffix` bytes (HTTP "bytes=-n")

export interface GetResult {
  object: ObjectView;
  offset: number;
  length: number;
  servedFrom: Tier;
  /** The bytes; stop iterating (return()) to cancel the read on the node. */
  body: AsyncIterable<Buffer>;
}

export interface DeleteResult {
  bucket: string;
  key: string;
  versionId: string;
  purgeAtMs: number;
}

export interface ListResult {
  objects: ObjectView[];
  nextCursor: string; // "" on the last page
}

export interface TrashListResult {
  entries: TrashEntryView[];
  nextCursor: string;
}

export interface ObjectEngine {
  put(input: PutInput): Promise<ObjectView>;
  get(bucket: string, key: string, range?: ByteRange): Promise<GetResult>;
  head(bucket: string, key: string): Promise<ObjectView>;
  delete(bucket: string, key: string): Promise<DeleteResult>;
  list(bucket: string, prefix: string, limit: number, cursor: string): Promise<ListResult>;
  undelete(bucket: string, key: string): Promise<ObjectView>;
  listTrash(bucket: string, prefix: string, limit: number, cursor: string): Promise<TrashListResult>;
}
