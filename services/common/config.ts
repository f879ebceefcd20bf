import { atMost, type Check, duration, matching, nonEmpty, oneOf, size, sizeWithUnit, text, url, wholeNumber } from "./config-checks";
import { ErrorCode, MiniS3Error } from "./errors";

// Every setting of every MiniS3 process, in one table: the README's configuration table is this.
// A service reads the subset it needs with loadConfig([...keys]); a bad value stops the process
// with a message that names the variable. The checks are config-checks.ts's plain functions.

const port = wholeNumber(0, 65535);
const positiveInt = wholeNumber(1);
const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;

export const SETTINGS = {
  host: { env: "MINIS3_HOST", default: "0.0.0.0", check: nonEmpty, doc: "address the coordinator and nodes listen on" },
  httpPort: { env: "MINIS3_HTTP_PORT", default: "8080", check: port, doc: "coordinator HTTP facade port" },
  grpcPort: { env: "MINIS3_GRPC_PORT", default: "50051", check: port, doc: "coordinator gRPC port (ObjectService, AdminService)" },
  s3Port: {
    env: "MINIS3_S3_PORT",
    default: "9000",
    check: port,
    doc: "coordinator S3 REST endpoint port (AWS Signature V4 on every request)",
  },
  s3Domain: {
    env: "MINIS3_S3_DOMAIN",
    default: "",
    check: matching(/^([a-z0-9.-]{1,253})?$/, "a DNS name: lowercase letters, digits, '.', '-'"),
    doc: "S3 virtual-host style: a request to <bucket>.<this domain> names the bucket in its Host (empty: path style only)",
  },
  s3Region: {
    env: "MINIS3_S3_REGION",
    default: "us-east-1",
    check: matching(/^[a-z0-9-]{1,64}$/, "lowercase letters, digits and '-'"),
    doc: "S3 region GetBucketLocation reports (requests signed for any region are accepted)",
  },
  metricsPort: {
    env: "MINIS3_METRICS_PORT",
    default: "0",
    check: port,
    doc: "Prometheus metrics at GET /metrics on this port (0: none); a coordinator group serves its workers' merged from the primary",
  },
  metricsBasePort: {
    env: "MINIS3_METRICS_BASE_PORT",
    default: "9100",
    check: port,
    doc: "launcher: first metrics port, one per process (coordinator, storage nodes, backup, delete; 0: no metrics)",
  },
  nodeBasePort: {
    env: "MINIS3_NODE_BASE_PORT",
    default: "7100",
    check: port,
    doc: "launcher: first port handed to nodes (storage nodes, then backup, then delete); keep it below Linux's ephemeral range (32768+), where an outgoing connection can hold a restarting node's port",
  },
  coordinators: {
    env: "MINIS3_COORDINATORS",
    default: "2",
    check: positiveInt,
    doc: "coordinator: processes sharing its HTTP, gRPC and S3 ports (a small primary listens, forks them and restarts one that dies)",
  },
  storageNodes: { env: "MINIS3_STORAGE_NODES", default: "3", check: positiveInt, doc: "launcher: number of storage nodes" },
  dataDir: {
    env: "MINIS3_DATA_DIR",
    default: "./data",
    check: nonEmpty,
    doc: "a node's own directory (the launcher gives each node <dir>/<node id>)",
  },
  mysqlUrl: {
    env: "MINIS3_MYSQL_URL",
    default: "mysql://root@127.0.0.1:3306/minis3",
    check: url(["mysql:", "mariadb:"]),
    doc: "catalogue database; created if missing. Add `?socket=/run/mysqld/mysqld.sock` to use a Unix socket (less CPU per query than TCP)",
  },
  redisUrl: {
    env: "MINIS3_REDIS_URL",
    default: "redis://127.0.0.1:6379",
    check: url(["redis:", "rediss:"]),
    doc: "Redis for the lifecycle queues",
  },
  queuePrefix: {
    env: "MINIS3_QUEUE_PREFIX",
    default: "minis3",
    check: matching(/^[A-Za-z0-9_{}.-]{1,64}$/, "letters, digits, '_', '-', '.'"),
    doc: "BullMQ key prefix (wrapped in {} so a queue stays on one Redis Cluster slot)",
  },
  replicas: { env: "MINIS3_REPLICAS", default: "2", check: positiveInt, doc: "hot copies of each object" },
  writeQuorum: {
    env: "MINIS3_WRITE_QUORUM",
    default: "",
    check: text,
    doc: "copies confirmed before an upload is acknowledged (default: a majority of MINIS3_REPLICAS)",
  },
  maxObjectSize: { env: "MINIS3_MAX_OBJECT_SIZE", default: "5GiB", check: size, doc: "largest object accepted (413 above)" },
  chunkSize: { env: "MINIS3_CHUNK_SIZE", default: "256KiB", check: size, doc: "size of the chunks objects stream in between processes" },
  maxSmallBlobs: {
    env: "MINIS3_NODE_MAX_SMALL_BLOBS",
    default: "0",
    check: wholeNumber(0),
    doc: "storage and delete node: small blobs its in-memory index may hold; past it small puts are refused (uploads go to other nodes, trash moves wait). 0: 60 % of the heap's limit at ~250 B a blob, ~400 on the delete node",
  },
  // 8 MiB, not 16 (issue 16, 2026-12-03): the cache's rows were 13 of the busy coordinator's 65 MiB of
  // live heap after the bench's small rows, and with 8 its peak RSS through the large rows that follow was
  // 232.2 against 243.9 MiB (means of four alternated pairs), MariaDB's CPU per mixed op not higher
  // (bench/README.md, "The read cache's bound and the coordinator's peak").
  readCache: {
    env: "MINIS3_READ_CACHE",
    default: "8MiB",
    check: sizeWithUnit("a bare number was a count of rows before 2026-12"),
    doc: "coordinator: heap the catalogue rows kept for reads may take, estimated (~1.4 KiB a row without metadata; 0: off); kept coherent across coordinators over Redis",
  },
  // 8 MiB: the bench's overwrite row keeps 1,000 keys of 4 KiB, each body charged 5 KiB (replicas/body-cache.ts).
  bodyCacheBytes: {
    env: "MINIS3_BODY_CACHE_BYTES",
    default: "8MiB",
    check: size,
    doc: "coordinator: memory for the bytes of recent small versions (up to MINIS3_CHUNK_SIZE), so their GETs and trash moves ask no node (+1 KiB an entry; 0: off); no invalidation needed",
  },
  // 32 uploads of 64 MiB at once took a fresh worker from ~110 MiB to 317-396 unbounded; at most 8
  // streaming, 244-252 (6: 223, 4: 202), and all 32 were in sooner (bench/README.md "Large uploads at
  // once, bounded", 2026-12-06). 8: a 64 MiB file's parts as aws cli sends them, all at once.
  largeUploads: {
    env: "MINIS3_LARGE_UPLOADS",
    default: "8",
    check: positiveInt,
    doc: "coordinator: large uploads (bodies over MINIS3_CHUNK_SIZE) one coordinator process streams at once, ~12 MiB of memory each; more wait their turn, their bytes left in the client's socket",
  },
  largeUploadWait: {
    env: "MINIS3_LARGE_UPLOAD_WAIT",
    default: "20s",
    check: duration(),
    doc: "coordinator: how long a large upload waits for its turn before it is refused with 503 (S3: SlowDown), nothing stored",
  },
  // 1,024 clients each sending 256 KiB at 25 KB/s took a fresh worker from ~109 to 749 MiB, all of it heads
  // being received and what they cost; with 64 MiB of room 364 (32: 346, 16: 311), every upload stored in the
  // same 15 s: the rest is per connection (bench/README.md "Upload heads, bounded", 2026-12-06). 64 MiB: 256
  // heads of a 256 KiB chunk at once, far past what a client's load keeps in flight.
  uploadBuffer: {
    env: "MINIS3_UPLOAD_BUFFER",
    default: "64MiB",
    check: size,
    doc: "coordinator: memory one coordinator process gives the uploads it is receiving (each takes what it declares, up to MINIS3_CHUNK_SIZE, before its body is read); more wait, their bytes left in the client's socket; 0: no bound",
  },
  uploadBufferWait: {
    env: "MINIS3_UPLOAD_BUFFER_WAIT",
    default: "20s",
    check: duration(),
    doc: "coordinator: how long an upload waits for room in MINIS3_UPLOAD_BUFFER before it is refused with 503 (S3: SlowDown), nothing stored",
  },
  cacheLease: {
    env: "MINIS3_CACHE_LEASE",
    default: "2s",
    check: duration({ ok: (ms) => ms >= 200, message: "at least 200ms" }),
    doc: "coordinator: a read cache not renewed (Redis lease, MariaDB fence epoch) for this long stops answering; a write a peer does not ack waits this long",
  },
  hotTtl: { env: "MINIS3_HOT_TTL", default: "30m", check: duration(), doc: "an object not retrieved for this long moves to the cold tier" },
  trashTtl: {
    env: "MINIS3_TRASH_TTL",
    default: "24h",
    check: duration(),
    doc: "deleted and overwritten versions stay restorable this long",
  },
  reconcileInterval: {
    env: "MINIS3_RECONCILE_INTERVAL",
    default: "30s",
    check: duration(),
    doc: "how often the reconciler looks for leftover copies and short or lost replicas without a job",
  },
  httpIdleTimeout: {
    env: "MINIS3_HTTP_IDLE_TIMEOUT",
    default: "2m",
    check: duration(),
    doc: "coordinator: an HTTP connection on which no byte moves either way for this long is closed (a stalled client; a slow one that keeps moving is never cut)",
  },
  httpHeadersTimeout: {
    env: "MINIS3_HTTP_HEADERS_TIMEOUT",
    default: "30s",
    check: duration({ ok: (ms) => ms > 0, message: "must be more than 0" }),
    doc: "coordinator: a request's line and headers must all arrive within this (408 otherwise)",
  },
  httpRequestTimeout: {
    env: "MINIS3_HTTP_REQUEST_TIMEOUT",
    default: "0",
    check: duration(),
    doc: "coordinator: a whole request, body included, must arrive within this (0: no limit; a limit cuts large uploads on slow links)",
  },
  httpKeepAliveTimeout: {
    env: "MINIS3_HTTP_KEEPALIVE_TIMEOUT",
    default: "72s",
    check: duration(),
    doc: "coordinator: an idle keep-alive connection between requests is closed after this",
  },
  heartbeatInterval: { env: "MINIS3_HEARTBEAT_INTERVAL", default: "1s", check: duration(), doc: "how often nodes report to the catalogue" },
  repairAfter: {
    env: "MINIS3_REPAIR_AFTER",
    default: "10m",
    check: duration(),
    doc: "a storage node a coordinator saw down this long without a break has its copies made elsewhere; no repair in its first this long",
  },
  repairRate: {
    env: "MINIS3_REPAIR_RATE",
    default: "32MiB",
    check: size,
    doc: "repair and rehome (handoff, rebalance): bytes per second copied between storage nodes, cluster-wide (0: unthrottled)",
  },
  scrubRate: {
    env: "MINIS3_SCRUB_RATE",
    default: "4MiB",
    check: size,
    doc: "scrubber: bytes per second re-read and checked against sha256, cluster-wide (0: off, and orphans are kept)",
  },
  orphanGrace: {
    env: "MINIS3_ORPHAN_GRACE",
    default: "1h",
    check: duration({ ok: (ms) => ms >= 1000, message: "at least 1s" }),
    doc: "scrubber: a copy no catalogue row names is deleted once seen so for this long (far above any upload in flight)",
  },
  nodeDownAfter: {
    env: "MINIS3_NODE_DOWN_AFTER",
    default: "5s",
    check: duration(),
    doc: "a node silent for this long is taken as down; a coordinator's write lease (≥ 3 × MINIS3_HEARTBEAT_INTERVAL)",
  },
  nodeId: {
    env: "MINIS3_NODE_ID",
    default: "",
    check: matching((s) => s === "" || NODE_ID.test(s), "1-64 letters, digits, '.', '_' or '-'"),
    doc: "node: stable id (default: kept in <data dir>/node-id, made on first start)",
  },
  nodePort: { env: "MINIS3_NODE_PORT", default: "0", check: port, doc: "node: gRPC port (0: any free port)" },
  nodeAddress: {
    env: "MINIS3_NODE_ADDRESS",
    default: "",
    check: text,
    doc: "node: host:port the coordinator and the other nodes dial (default 127.0.0.1:<port>)",
  },
  zone: { env: "MINIS3_ZONE", default: "local", check: nonEmpty, doc: "node: failure domain label" },
  accessKey: {
    env: "MINIS3_ACCESS_KEY",
    default: "",
    check: matching(/^([A-Za-z0-9._~+=-]{3,128})?$/, "3-128 letters, digits or . _ ~ + = -"),
    doc: "access key of the one user allowed every bucket (with MINIS3_SECRET_KEY; several users: MINIS3_KEYS_FILE)",
  },
  secretKey: {
    env: "MINIS3_SECRET_KEY",
    default: "",
    check: atMost(256),
    doc: "secret key that goes with MINIS3_ACCESS_KEY (requests are signed with it: AWS Signature V4)",
  },
  keysFile: {
    env: "MINIS3_KEYS_FILE",
    default: "",
    check: text,
    doc: "JSON file of users, each with its keys and the buckets it may use (README: Credentials); instead of MINIS3_ACCESS_KEY",
  },
  clusterSecret: {
    env: "MINIS3_CLUSTER_SECRET",
    default: "",
    check: matching(
      (s) => s === "" || (s.length >= 16 && s.length <= 256 && /^[\x21-\x7e]+$/.test(s)),
      "16-256 printable ASCII characters, no spaces",
    ),
    doc: "secret every coordinator and node shares: a node serves only calls that carry it (npm start makes one, kept in <data dir>/cluster-secret; unset: nodes serve anyone, with a warning)",
  },
  logLevel: {
    env: "MINIS3_LOG_LEVEL",
    default: "info",
    check: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    doc: "log level",
  },
} as const;

type Settings = typeof SETTINGS;
export type SettingKey = keyof Settings;
export type Config<K extends SettingKey> = { [P in K]: Settings[P]["check"] extends Check<infer T> ? T : never };

export class ConfigError extends MiniS3Error {
  constructor(message: string) {
    super(ErrorCode.InvalidConfig, message);
  }
}

/** Reads the named settings from env; throws ConfigError naming every bad variable. */
export function readConfig<K extends SettingKey>(keys: readonly K[], env: NodeJS.ProcessEnv = process.env): Config<K> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of keys) {
    const s = SETTINGS[key];
    const raw = env[s.env] ?? s.default;
    try {
      out[key] = (s.check as Check<unknown>)(raw);
    } catch (e) {
      problems.push(`${s.env}=${JSON.stringify(raw)}: ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  return out as Config<K>;
}

/** readConfig for a main(): prints the problem and exits with status 2. */
export function loadConfig<K extends SettingKey>(keys: readonly K[]): Config<K> {
  try {
    return readConfig(keys);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`minis3: ${e.message}\n`);
    process.exit(2);
  }
}

/** Write quorum: explicit, or a majority of the replicas; never above the replica count. */
export function resolveWriteQuorum(replicas: number, raw: string): number {
  if (raw === "") return Math.floor(replicas / 2) + 1;
  const w = Number(raw);
  if (!Number.isInteger(w) || w < 1 || w > replicas) {
    throw new ConfigError(
      `invalid configuration:\n  MINIS3_WRITE_QUORUM=${JSON.stringify(raw)}: must be a whole number from 1 to MINIS3_REPLICAS (${replicas})`,
    );
  }
  return w;
}

/** BullMQ prefix with a Redis Cluster hash tag, so all keys of a queue share a slot. */
export function queuePrefix(prefix: string): string {
  return prefix.includes("{") ? prefix : `{${prefix}}`;
}
