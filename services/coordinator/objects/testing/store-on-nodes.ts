import { silentLog } from "../../../rpc/testing/test-helpers";
import type { Catalogue } from "../../catalogue/catalogue";
import { Placement } from "../../placement/placement";
import type { BodyCache } from "../../replicas/body-cache";
import type { InProcessNodes } from "../../replicas/testing/in-process-nodes";
import { NO_EVENTS } from "../object-events";
import { ObjectStore, type ObjectStoreDeps } from "../object-store";

/**
 * An engine over in-process node servers (replicas/testing/in-process-nodes.ts) and `catalogue`,
 * placing `replicas` copies with `writeQuorum` of them required; access times and undeletes are
 * not part of these tests.
 */
export function storeOnNodes(
  nodes: InProcessNodes,
  catalogue: Catalogue,
  opts: { replicas: number; writeQuorum: number; chunkSize: number; bodies?: BodyCache },
): ObjectStore {
  const deps: ObjectStoreDeps = {
    catalogue,
    placement: new Placement(nodes.directory, opts.replicas),
    nodes: nodes.pool,
    access: { touch: () => undefined, lastSeen: () => undefined } as unknown as ObjectStoreDeps["access"],
    log: silentLog,
    events: NO_EVENTS,
    undeleter: { undelete: () => Promise.reject(new Error("not here")) },
    bodies: opts.bodies,
  };
  const { replicas, writeQuorum, chunkSize } = opts;
  return new ObjectStore(deps, { replicas, writeQuorum, maxObjectSize: 1 << 30, chunkSize, hotTtlMs: 30 * 60_000 });
}
