import { makeGenericClientConstructor } from "@grpc/grpc-js";
import { NodeServiceClient, NodeServiceService } from "../gen/minis3/v1/node";
import { decodeBatchRequest, decodeBatchResponse, encodeBatchRequest, encodeBatchResponse } from "./exchange-codec";

/** NodeService with the hand-written Exchange codec on both sides (same wire format, fewer copies). */
export const FastNodeService = {
  ...NodeServiceService,
  exchange: {
    ...NodeServiceService.exchange,
    requestSerialize: encodeBatchRequest,
    requestDeserialize: decodeBatchRequest,
    responseSerialize: encodeBatchResponse,
    responseDeserialize: decodeBatchResponse,
  },
} as const;

export const FastNodeServiceClient = makeGenericClientConstructor(FastNodeService, "minis3.v1.NodeService") as unknown as typeof NodeServiceClient;
