// Node-to-node gRPC needs the cluster secret (MINIS3_CLUSTER_SECRET): a storage node holds every
// object's bytes and NodeService has no users, so without it anyone who can reach a node's port could
// read, overwrite or delete any blob. Every client call (the Exchange stream too) carries the secret
// as metadata; a node configured with one refuses a call without it, or with another, before any
// handler runs (UNAUTHENTICATED, with InvalidConfig in the minis3-code trailer: the caller reached a
// live node whose secret differs, a configuration error, never "the node is down").
import * as grpc from "@grpc/grpc-js";
import { createHash, timingSafeEqual } from "node:crypto";
import { ErrorCode, hasCode, MiniS3Error } from "../common/errors";
import { checkingMetadata, sendingMetadata } from "./node-identity";
import { toNodeCallStatus } from "./wire-errors";

export const CLUSTER_SECRET_HEADER = "minis3-cluster-secret";

/** Client side: every call carries the secret. */
export function presentingSecret(secret: string): grpc.Interceptor {
  return sendingMetadata(CLUSTER_SECRET_HEADER, secret);
}

/**
 * Equal in constant time: both sides hashed first, so neither the secret's bytes nor its length
 * leak through how long a refusal takes.
 */
export function sameSecret(expected: string, given: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(expected), digest(given));
}

/** Server side: a call without the secret, or with another one, ends UNAUTHENTICATED, unserved. */
export function requiringSecret(secret: string): grpc.ServerInterceptor {
  return checkingMetadata((metadata) => {
    const refusal = secretRefusal(secret, metadata.get(CLUSTER_SECRET_HEADER)[0]);
    return refusal && { ...toNodeCallStatus(refusal), code: grpc.status.UNAUTHENTICATED };
  });
}

/** Why a call that presented `given` is refused (InvalidConfig), or undefined: it carries the secret. */
export function secretRefusal(secret: string, given: unknown): MiniS3Error | undefined {
  if (typeof given === "string" && sameSecret(secret, given)) return undefined;
  const why = given === undefined ? "carries no cluster secret" : "carries another cluster secret";
  return new MiniS3Error(
    ErrorCode.InvalidConfig,
    `this node refuses the call: it ${why} (set the same MINIS3_CLUSTER_SECRET on every coordinator and node)`,
  );
}

/** True when a node refused a call for its cluster secret (or named another configuration error). */
export function isSecretRefusal(e: unknown): boolean {
  return hasCode(e, ErrorCode.InvalidConfig);
}
