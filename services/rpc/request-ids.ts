// The request id on the node wire (common/request-context.ts). Unary calls and blob streams belong
// to one request: it rides in their metadata. The Exchange stream carries many requests' ops, so
// each op names its own (BlobOp.request_id) and the stream's metadata names none.
import * as grpc from "@grpc/grpc-js";
import { currentRequestId, REQUEST_ID_HEADER } from "../common/request-context";

const EXCHANGE_PATH = "/minis3.v1.NodeService/Exchange";

/** Client side: a call made during a request's work carries its id (read when the call is made). */
export function carryingRequestId(): grpc.Interceptor {
  return (options, nextCall) => {
    const requestId = options.method_definition.path === EXCHANGE_PATH ? undefined : currentRequestId();
    if (requestId === undefined) return new grpc.InterceptingCall(nextCall(options));
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(REQUEST_ID_HEADER, requestId);
        next(metadata, listener);
      },
    });
  };
}

/** Server side: the id a call carried, for the node's log lines about it ("" for none). */
export function requestIdOf(metadata: grpc.Metadata): string {
  const v = metadata.get(REQUEST_ID_HEADER);
  return v.length === 1 && typeof v[0] === "string" ? v[0] : "";
}
