// The blob plane: a large blob's bytes read from a node as one plain HTTP/1.1 response, or written
// to it as one HTTP/1.1 PUT, on the node's own port (server/shared-port.ts tells it from gRPC's HTTP/2 by the connection's first bytes),
// instead of a ReadBlob stream. grpc-js over node:http2 cost the coordinator and the node 16-22 ms of
// CPU per MiB on the large-object path (ARCHITECTURE.md, issue 16): a 16 KiB DATA frame event each,
// a framing copy per message, a joining copy on the receiver. Here the body is the file's chunks
// written as they are, and the receiver gets slices of its 64 KiB socket reads.
//
// Same guarantees as ReadBlob: the cluster secret and the node's id in headers (refused before any
// read, with the same codes), the blob's info before the first byte, the node's verdict on what it
// sent (its per-block crc32, or a version 1 file's whole-read sha256: an IntegrityError, say) in a trailer after the
// last byte. A body cut before that trailer was cut by the transport (NodeUnavailable, resumable on
// another replica); one whose trailer names an error carries the node's own error.
//
// Same guarantees as WriteBlob for a PUT: the same checks, answered before the node accepts a byte
// (the client waits for "100 Continue"); the body chunked, the sender's size and sha256 (and, if
// its header said so, the fold of its block crc32s, which the node then checks instead of the
// sha256) in its trailer, checked by the node before its durable commit (temp file, fsync, rename); the answer (the
// committed BlobInfo, or the node's error) only after that. A body cut before its trailer commits
// nothing.
import { ErrorCode, errorOf, isErrorCode, MiniS3Error } from "../common/errors";
import { BlobHeader, BlobInfo } from "./gen/minis3/v1/node";
import type { BlobMeta } from "./blob-backend";
import { fromBlobInfo, toBlobInfo } from "./blob-info";
import { toWire } from "./wire-errors";

/** GET BLOB_PATH/<blob id>?offset=&length=, PUT BLOB_PATH/<blob id> */
export const BLOB_PATH = "/minis3/v1/blobs/";
/** The blob's info (BlobInfo, protobuf, base64): the same message ReadBlob sends first. */
export const BLOB_INFO_HEADER = "minis3-blob";
/** In the trailer (or the headers of a refusal): "ok", or the node's ErrorCode. */
export const CODE_FIELD = "minis3-code";
/** With an error code: its message, URI-encoded (headers are latin1). */
export const MESSAGE_FIELD = "minis3-message";
export const OK = "ok";
/** A PUT's copy attributes (BlobHeader, protobuf, base64), as WriteBlob's header carries them. */
export const ATTRIBUTES_HEADER = "minis3-attributes";
/** In a PUT's trailer: the body's size (decimal) and sha256 (hex) as the sender computed them. */
export const SIZE_FIELD = "minis3-size";
export const SHA256_FIELD = "minis3-sha256";
/**
 * A PUT's header "block-crc32": its trailer also carries BLOCK_CRC_FIELD, the fold of the body's
 * block crc32s (rpc/block-checksums.ts, 8 hex digits), and the node checks the body by that instead
 * of hashing it with sha256 (BlobBackend's WireCheck). Without it the node checks the sha256. A GET's
 * headers carry BLOCK_CRC_FIELD too when the node reads a whole blob whose file keeps block crc32s:
 * the fold of its stored table (BlobReader.blockCrc), for a copy's target to check by.
 */
export const CHECK_HEADER = "minis3-check";
export const BLOCK_CRC_CHECK = "block-crc32";
export const BLOCK_CRC_FIELD = "minis3-block-crc32";

/** A block crc32 fold as BLOCK_CRC_FIELD carries it: 8 hex digits. */
export function encodeBlockCrc(fold: number): string {
  return fold.toString(16).padStart(8, "0");
}

/** BLOCK_CRC_FIELD's fold; undefined if the field is absent or not 8 hex digits. */
export function decodeBlockCrc(field: string | string[] | undefined): number | undefined {
  return typeof field === "string" && /^[0-9a-f]{8}$/.test(field) ? parseInt(field, 16) : undefined;
}

export function encodeAttributes(blobId: string, attributes: Record<string, string>): string {
  return Buffer.from(BlobHeader.encode({ blobId, attributes }).finish()).toString("base64");
}

export function decodeAttributes(header: string | string[] | undefined): Record<string, string> {
  return typeof header === "string" && header ? BlobHeader.decode(Buffer.from(header, "base64")).attributes : {};
}

export function encodeBlobInfo(meta: BlobMeta): string {
  return Buffer.from(BlobInfo.encode(toBlobInfo(meta)).finish()).toString("base64");
}

export function decodeBlobInfo(header: string): BlobMeta {
  return fromBlobInfo(BlobInfo.decode(Buffer.from(header, "base64")));
}

/** The header (or trailer) fields naming a node's error. */
export function errorFields(e: unknown): Record<string, string> {
  const w = toWire(e);
  return { [CODE_FIELD]: w.code, [MESSAGE_FIELD]: encodeURIComponent(w.message) };
}

/**
 * The node's error from its fields; undefined for "ok". Fields without a code the node would send
 * (a proxy's answer, a cut body) are the transport's: NodeUnavailable.
 */
export function errorFromFields(fields: Record<string, string | string[] | undefined>, what: string): MiniS3Error | undefined {
  const code = fields[CODE_FIELD];
  if (code === OK) return undefined;
  const raw = fields[MESSAGE_FIELD];
  let message = what;
  if (typeof raw === "string") {
    try {
      message = decodeURIComponent(raw);
    } catch {
      message = raw;
    }
  }
  return isErrorCode(code) ? errorOf(code, message) : new MiniS3Error(ErrorCode.NodeUnavailable, what);
}
