// Request metrics for gRPC servers (the coordinator's API, "grpc"; a node's NodeService, "node"):
// a server interceptor times each call to its status, and the service definition's (de)serializers,
// wrapped once at start-up, count each message's encoded bytes under its method.
import * as grpc from "@grpc/grpc-js";
import { type Door, opMetrics } from "./request-metrics";

/** "/minis3.v1.ObjectService/PutObject" → "PutObject". */
function methodName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Times every call and counts a non-OK status (by its name; CANCELLED when the client went away). */
export function measuringCalls(door: Door): grpc.ServerInterceptor {
  return (method, call) => {
    const op = opMetrics(door, methodName(method.path));
    const start = performance.now();
    let done = false;
    const end = (code: grpc.status) => {
      if (done) return;
      done = true;
      op.record((performance.now() - start) / 1000, code === grpc.status.OK ? undefined : grpc.status[code]);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: () => end(grpc.status.CANCELLED) }),
      sendStatus: (status, next) => {
        end(status.code);
        next(status);
      },
    });
  };
}

/** The same service, its messages' bytes counted per method (received: requests, sent: responses). */
export function measuredService<S extends grpc.ServiceDefinition>(service: S, door: Door): S {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service) as [string, grpc.MethodDefinition<unknown, unknown>][]) {
    const op = opMetrics(door, methodName(def.path));
    const { requestDeserialize, responseSerialize } = def;
    out[name] = {
      ...def,
      requestDeserialize: (bytes: Buffer) => {
        op.received.inc(bytes.length);
        return requestDeserialize(bytes);
      },
      responseSerialize: (value: unknown) => {
        const bytes = responseSerialize(value);
        op.sent.inc(bytes.length);
        return bytes;
      },
    };
  }
  return out as S;
}
