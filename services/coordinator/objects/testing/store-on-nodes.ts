import { randomBytes } from "node:crypto";
import { silentLog } from "../../../rpc/testing/test-helpers";
import type { Catalogue } from "../../catalogue/catalogue";
import { Placement } from "../../placement/placement";
import type { BodyCache } from "../../replicas/body-cache";
import type { InProcessNodes } from "../../replicas/testing/in-process-nodes";
import { NO_EVENTS, type Undeleter } from "../object-events";
import { ObjectStore, type ObjectStoreDeps } from "../object-store";

/**
 * An engine over in-process node servers (replicas/testing/in-process-nodes.ts) and `catalogue`,
 * placing `replicas` copies with `writeQuorum` of them required; access times are not part of
 * these tests, and undeletes only with `undeleter`.
 */
export function storeOnNodes(
  nodes: InProcessNodes,
  catalogue: Catalogue,
  opts: { replicas: number; writeQuorum: number; chunkSize: number; bodies?: BodyCache; undeleter?: Undeleter },
): ObjectStore {
  const deps: ObjectStoreDeps = {
    catalogue,
    placement: new Placement(nodes.directory, opts.replicas),
    nodes: nodes.pool,
    access: { touch: () => undefined, lastSeen: () => undefined } as unknown as ObjectStoreDeps["access"],
    log: silentLog,
    events: NO_EVENTS,
    undeleter: opts.undeleter ?? { undelete: () => Promise.reject(new Error("not here")) },
    bodies: opts.bodies,
  };
  const { replicas, writeQuorum, chunkSize } = opts;
  return new ObjectStore(deps, { replicas, writeQuorum, maxObjectSize: 1 << 30, chunkSize, hotTtlMs: 30 * 60_000 });
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/** Puts `size` random bytes under `bucket`/`key` through `engine` (no request id). */
export function putRandom(engine: ObjectStore, bucket: string, key: string, size = 1000): ReturnType<ObjectStore["put"]> {
  return engine.put({ bucket, key, contentType: "", metadata: {}, body: once(randomBytes(size)), requestId: undefined });
}
