// Request ids at the front doors (request-context.ts): a client's sane x-request-id is kept, any
// other replaced; the answer carries it (facade and gRPC: x-request-id; S3 also as x-amz-request-id),
// and the request's work runs under it, so every log line of it, on every process, names it.
import * as grpc from "@grpc/grpc-js";
import type { FastifyInstance } from "fastify";
import { acceptRequestId, REQUEST_ID_HEADER, withRequestId } from "../../common/request-context";

/** The facade: first of the onRequest hooks, so even a refused signature answers with its id. */
export function traceHttpRequests(app: FastifyInstance): void {
  app.addHook("onRequest", (request, reply, done) => {
    const requestId = acceptRequestId(request.headers[REQUEST_ID_HEADER]);
    reply.header(REQUEST_ID_HEADER, requestId);
    withRequestId(requestId, done);
  });
}

/**
 * A gRPC call's id, sent back at once in the response metadata (before any message or status, so a
 * failed call has it too).
 */
export function grpcRequestId(call: { metadata: grpc.Metadata; sendMetadata(m: grpc.Metadata): void }): string {
  const sent = call.metadata.get(REQUEST_ID_HEADER);
  const requestId = acceptRequestId(sent.length === 1 && typeof sent[0] === "string" ? sent[0] : undefined);
  const answer = new grpc.Metadata();
  answer.set(REQUEST_ID_HEADER, requestId);
  call.sendMetadata(answer);
  return requestId;
}
