// A node checks that a request was meant for it. With MINIS3_NODE_PORT=0 a restarted node can take
// another node's old port, and a coordinator that has not yet read the new address would send it
// the other node's puts and deletes. So every call names the node it is for (client interceptor),
// and a node refuses a call for another id (server interceptor) with WrongNode before any handler
// runs. A call that names no node (an older coordinator, a tool) is served as before.
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, MiniS3Error } from "../common/errors";
import { toNodeCallStatus } from "./wire-errors";

export const NODE_ID_HEADER = "minis3-node-id";

/** Client side: every call (unary, streams, the Exchange stream) carries this metadata entry. */
export function sendingMetadata(name: string, value: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(name, value);
        next(metadata, listener);
      },
    });
}

/** Client side: every call carries the id of the node it is for. */
export function askingFor(nodeId: string): grpc.Interceptor {
  return sendingMetadata(NODE_ID_HEADER, nodeId);
}

/**
 * Server side: `refusal` looks at each call's metadata before any handler runs; a status it
 * answers ends the call unserved, undefined lets it through. The counterpart of sendingMetadata.
 */
export function checkingMetadata(
  refusal: (metadata: grpc.Metadata) => ReturnType<typeof toNodeCallStatus> | undefined,
): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            const refused = refusal(metadata);
            if (refused === undefined) return mdNext(metadata);
            call.sendStatus(refused);
          },
        });
      },
    });
}

/** Server side: a call for another node ends with WrongNode (in the minis3-code trailer), unserved. */
export function refusingOtherNodes(nodeId: string): grpc.ServerInterceptor {
  return checkingMetadata((metadata) => {
    const refusal = wrongNodeRefusal(nodeId, metadata.get(NODE_ID_HEADER)[0]);
    return refusal && toNodeCallStatus(refusal);
  });
}

/** WrongNode when a call asked for another node than `nodeId`; undefined when it asked for none or this one. */
export function wrongNodeRefusal(nodeId: string, asked: unknown): MiniS3Error | undefined {
  if (asked === undefined || asked === nodeId) return undefined;
  return new MiniS3Error(ErrorCode.WrongNode, `this is node ${nodeId}, not ${String(asked)}`);
}
