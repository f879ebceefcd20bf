import { join, resolve } from "node:path";
import { dialableHost, hostPort } from "../../services/common/net-address";

// The launcher's plan: a pure function from the cluster's shape to the OS processes that make it.
// The launcher (deploy/launcher/main.ts) and the test harness (deploy/launcher/cluster.ts) both run
// exactly this plan, so what the tests start is what a user starts.

export type ServiceKind = "coordinator" | "storage" | "backup" | "delete";

export interface ClusterShape {
  /** Address every process listens on (MINIS3_HOST). */
  host: string;
  httpPort: number;
  grpcPort: number;
  /** First node port: storage-1..N, then backup-1, then delete-1. */
  nodeBasePort: number;
  /** First metrics port: the coordinator, then the nodes in the same order; 0: no metrics. */
  metricsBasePort: number;
  storageNodes: number;
  /** Each node gets <dataDir>/<node id>. */
  dataDir: string;
  /** Repository root; entry scripts are dist/services/<service>/main.js under it. */
  repoRoot: string;
}

export interface ProcessSpec {
  /** Unique name: "coordinator" or the node id (storage-1, backup-1, delete-1). */
  name: string;
  kind: ServiceKind;
  /** Absolute path of the compiled entry script. */
  script: string;
  /** Node.js flags the process runs with (see NODE_ARGS). */
  nodeArgs?: string[];
  /** A command the process runs under (e.g. `ip netns exec <ns>`: tests run nodes as separate hosts). */
  wrapper?: string[];
  /** The complete environment of the child (the base env plus this process's own settings). */
  env: Record<string, string>;
  /** The port the process serves on: the HTTP port for the coordinator, the gRPC port for a node. */
  port: number;
  /** host:port others dial: the coordinator's gRPC address, or a node's MINIS3_NODE_ADDRESS. */
  address: string;
  /** Its Prometheus metrics port (GET /metrics); 0 or absent: none. */
  metricsPort?: number;
}

/**
 * Memory flags every service runs with; the Dockerfile and compose file use the same (and
 * deploy/check-compose.py checks that they do).
 * - A young generation of 4 MiB semi-spaces instead of 16: streaming gigabytes makes garbage fast,
 *   and the default lets every process hold ~30 MB more of it (measured: the coordinator peaked
 *   just above 250 MB while a 1 GiB object passed).
 * - An old generation allowed to grow to twice its live size between full collections rather than
 *   V8's up to four times: after the mixed small-object load the coordinator's heap stood at
 *   157 MB for 45 MB live; with this, at ~100 MB. The extra full GCs cost ~1 % CPU.
 * - `gc` exposed, for the young collections paced by body bytes (common/young-gc-pacer.ts): without
 *   them the dead pieces of large bodies set off a full collection every 12-48 MiB.
 */
export const NODE_ARGS = ["--max-semi-space-size=4", "--heap-growing-percent=100", "--expose-gc"];

/**
 * The coordinator's, with 16 MiB semi-spaces: the lifecycle keeps 512 moves per transition in
 * flight, each living across a few catalogue and node batches (0.5-1 s), so a 4 MiB scavenge
 * freed little and copied the rest (GC was 26 % of the coordinator's busy time in a profile of
 * the lifecycle bench). Measured, 10,000 due over 10 s, alternated runs at load 16-21: coordinator
 * CPU per demotion 647, 669 -> 505, 553 us; per trash move 540, 566 -> 385, 435 us. The cost: its
 * largest RSS while a 1 GiB object passed went from 188 to 211 MiB (64 MiB: 171 -> 194).
 * And an old generation allowed only half again its live size between full collections: with
 * twice, the small-object phases left the old space at 100-109 MiB committed for ~50 live, and a
 * 1 GiB object passing right after put the coordinator above 250 MB (issue 16's floor); at 50 %
 * it stood at 58-78 MiB (bench/README.md, "The coordinator's old space", 2026-12-02).
 * 8 MiB semi-spaces were measured again on npm start's cluster (2026-12-02 17:07-18:09, bench/README.md
 * "The coordinator's peak taken apart"): the young generation 32 -> 16 MiB, but more was promoted
 * and the old space stood larger, so the peak with large objects moved only 231-244 -> 229-236 MiB,
 * while the lifecycle's coordinator CPU per move rose 5-9 %: not kept. Most of the peak is not
 * V8's heap but the C heap's high-water of Buffers (~60 MiB over its rest).
 * `gc` exposed as for every service (NODE_ARGS).
 */
export const COORDINATOR_NODE_ARGS = ["--max-semi-space-size=16", "--heap-growing-percent=50", "--expose-gc"];

/**
 * What frees a large body's pieces as they are used (common/body-pieces.ts) is
 * `ArrayBuffer.prototype.transfer`, built into V8 from 11.4 (Node 21); Node 20's V8 (11.3) has it
 * behind this flag, which a Node that does not know it refuses at start. The image's Node is 20:
 * the Dockerfile and compose file give it (deploy/check-compose.py checks that they do).
 */
export const ARRAY_BUFFER_TRANSFER_ARGS = ["--harmony-rab-gsab-transfer"];

/**
 * glibc's malloc settings for the nodes that write blobs (storage, backup, delete); the compose file
 * gives them too (deploy/check-compose.py checks that it does). A node frees each piece of an upload's
 * body as soon as it is written (common/body-pieces.ts), so the freed 64 KiB often lay at the top of
 * the C heap, which glibc gave back to the kernel past 128 KiB free, and the next pieces took fresh
 * pages again: 17-107 page faults per MiB uploaded. Keeping up to 32 MiB free at the top (and asking
 * 4 MiB more at a time) costs a node at most that much RSS. npm start's cluster, 8 fresh-key 64 MiB
 * uploads a run, alternated pairs of fresh launchers (2026-12-05): 8-12 faults per MiB, the storage
 * nodes' CPU per MiB uploaded 4.21 -> 3.42 ms on means over five pairs with the settings given to
 * every process, 3.97 -> 3.17 over three with the launcher giving them to the nodes (lower in 8 of
 * 8); GETs unchanged. A value already in the launcher's environment wins.
 */
export const BLOB_NODE_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_TRIM_THRESHOLD_: "33554432",
  MALLOC_TOP_PAD_: "4194304",
};

/**
 * glibc's malloc setting for the coordinator (the compose file gives it too; deploy/check-compose.py
 * checks). An allocation of 1 MiB or more (an upload's chunk past the pool of
 * coordinator/objects/upload-chunk-pool.ts) is mapped on its own and given back when freed: with
 * glibc's moving threshold such chunks came from the heap after the first was freed, and the heap kept
 * what a burst of them had grown it to. The bench's multipart row (eight 8 MiB parts at once) left the
 * busy worker at 262-278 MiB, and the 1 GiB pass that followed at 264-278 (the floor is 250 MB); with
 * this, 226-231 and 201-204 MiB, the multipart row 14-21 % slower (two alternated pairs, 2026-12-06,
 * bench/README.md "Multipart uploads"). Smaller allocations (64 KiB body pieces) are as before. A
 * value already in the launcher's environment wins.
 */
export const COORDINATOR_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: "1048576",
};

/** The flags above where this Node needs them (the services run on the launcher's own Node). */
export const RUNTIME_ARGS =
  typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === "function" ? [] : ARRAY_BUFFER_TRANSFER_ARGS;

const ENTRY: Record<ServiceKind, string> = {
  coordinator: "dist/services/coordinator/main.js",
  storage: "dist/services/storage-node/main.js",
  backup: "dist/services/backup-node/main.js",
  delete: "dist/services/delete-node/main.js",
};

/** Per-node settings the plan always sets itself; a value for them in the base env is replaced. */
const PER_NODE_VARS = ["MINIS3_NODE_ID", "MINIS3_NODE_PORT", "MINIS3_NODE_ADDRESS", "MINIS3_DATA_DIR", "MINIS3_METRICS_PORT"];

/** Only string values: a child's env must not carry `undefined`. */
function cleanEnv(base: NodeJS.ProcessEnv | Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * The processes of one cluster: one coordinator, `storageNodes` storage nodes (storage-1..N), one
 * backup node (backup-1), one delete node (delete-1). Pure: the same shape and env give the same plan.
 */
export function planCluster(shape: ClusterShape, baseEnv: NodeJS.ProcessEnv | Record<string, string>): ProcessSpec[] {
  if (!Number.isInteger(shape.storageNodes) || shape.storageNodes < 1) {
    throw new RangeError(`storageNodes must be a whole number of at least 1 (got ${shape.storageNodes})`);
  }
  const lastPort = shape.nodeBasePort + shape.storageNodes + 1;
  if (shape.nodeBasePort < 1 || lastPort > 65535) {
    throw new RangeError(`node ports ${shape.nodeBasePort}..${lastPort} do not fit in 1..65535 (MINIS3_NODE_BASE_PORT must be set, not 0)`);
  }
  const common = cleanEnv(baseEnv);
  for (const v of PER_NODE_VARS) delete common[v];
  common.MINIS3_HOST = shape.host;
  const dial = dialableHost(shape.host);
  const script = (kind: ServiceKind) => resolve(shape.repoRoot, ENTRY[kind]);
  // Each process its own metrics port (every process is its own scrape target), in plan order.
  const lastMetricsPort = shape.metricsBasePort + shape.storageNodes + 2;
  if (shape.metricsBasePort > 0 && lastMetricsPort > 65535) {
    throw new RangeError(`metrics ports ${shape.metricsBasePort}..${lastMetricsPort} do not fit in 1..65535`);
  }
  const metricsPort = (i: number) => (shape.metricsBasePort > 0 ? shape.metricsBasePort + i : 0);

  const specs: ProcessSpec[] = [
    {
      name: "coordinator",
      kind: "coordinator",
      script: script("coordinator"),
      nodeArgs: [...RUNTIME_ARGS, ...COORDINATOR_NODE_ARGS],
      env: {
        ...COORDINATOR_MALLOC_ENV,
        ...common,
        MINIS3_HTTP_PORT: String(shape.httpPort),
        MINIS3_GRPC_PORT: String(shape.grpcPort),
        MINIS3_METRICS_PORT: String(metricsPort(0)),
      },
      port: shape.httpPort,
      address: hostPort(dial, shape.grpcPort),
      metricsPort: metricsPort(0),
    },
  ];

  const nodes: Array<{ id: string; kind: ServiceKind }> = [];
  for (let i = 1; i <= shape.storageNodes; i++) nodes.push({ id: `storage-${i}`, kind: "storage" });
  nodes.push({ id: "backup-1", kind: "backup" }, { id: "delete-1", kind: "delete" });

  nodes.forEach(({ id, kind }, i) => {
    const port = shape.nodeBasePort + i;
    const address = hostPort(dial, port);
    specs.push({
      name: id,
      kind,
      script: script(kind),
      nodeArgs: [...RUNTIME_ARGS, ...NODE_ARGS],
      env: {
        ...BLOB_NODE_MALLOC_ENV,
        ...common,
        MINIS3_NODE_ID: id,
        MINIS3_NODE_PORT: String(port),
        MINIS3_NODE_ADDRESS: address,
        MINIS3_DATA_DIR: join(resolve(shape.dataDir), id),
        MINIS3_METRICS_PORT: String(metricsPort(i + 1)),
      },
      port,
      address,
      metricsPort: metricsPort(i + 1),
    });
  });
  return specs;
}
