// Request ids at the front doors (common/request-context.ts): a client's sane x-request-id is kept,
// any other replaced; the answer carries it (facade and gRPC: x-request-id; S3 also as
// x-amz-request-id), and the handlers pass it to the engine, so every log line of the request's work,
// on every process, names it.
import * as grpc from "@grpc/grpc-js";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance } from "fastify";
import { acceptRequestId, REQUEST_ID_HEADER } from "../../common/request-context";

/**
 * The facade's request id is fastify's own (its `genReqId`: `request.id`, which handlers pass on);
 * request.log's lines name it as `requestId` (its logController's label).
 */
export const httpRequestId = (req: IncomingMessage): string => acceptRequestId(req.headers[REQUEST_ID_HEADER]);
export const REQUEST_ID_LOG_LABEL = "requestId";

/** The facade: first of the onRequest hooks, so even a refused signature answers with its id. */
export function traceHttpRequests(app: FastifyInstance): void {
  app.addHook("onRequest", (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
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
