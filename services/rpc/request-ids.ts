// The request id on the node wire (common/request-context.ts). Unary calls and blob streams belong
// to one request: it rides in their metadata. The Exchange stream carries many requests' ops, so
// each op names its own (BlobOp.request_id) and the stream's metadata names none.
import * as grpc from "@grpc/grpc-js";
import { REQUEST_ID_HEADER, type RequestId } from "../common/request-context";

/** Client side: the metadata of a call made for request `requestId` (none: empty metadata). */
export function requestMetadata(requestId: RequestId): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (requestId !== undefined) metadata.set(REQUEST_ID_HEADER, requestId);
  return metadata;
}

/** Server side: the id a call carried, for the node's log lines about it ("" for none). */
export function requestIdOf(metadata: grpc.Metadata): string {
  const v = metadata.get(REQUEST_ID_HEADER);
  return v.length === 1 && typeof v[0] === "string" ? v[0] : "";
}
