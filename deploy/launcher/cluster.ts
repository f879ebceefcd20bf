import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SETTINGS } from "../../services/common/config";
import { forgetKeyPair, rememberKeyPair } from "./client-credentials";
import { newClusterSecret } from "./credentials";
import { isHealthy, waitForHealthy, waitForNodesLive } from "./health";
import { repoRoot } from "./paths";
import { planCluster, type ProcessSpec } from "./plan";
import { readClusterShape } from "./shape";
import { Supervisor, type ExitInfo, type ProcessStatus } from "./supervisor";
import { deleteQueueKeys, dropDatabase } from "./cluster-cleanup";
import { findFreePortBlock } from "./ports";

// The integration-test harness: a real MiniS3 cluster (the processes from dist/, started by the
// launcher's own plan and supervisor) on free ports, with its own database, queue prefix and data dir.

export interface ClusterOptions {
  /** Storage nodes (default 3). */
  storageNodes?: number;
  /** Extra MINIS3_* settings; they win over the harness's defaults. */
  env?: Record<string, string>;
  /** Extra environment for one process, by name (e.g. a faked clock for "delete-1"). */
  processEnv?: Record<string, Record<string, string>>;
  /** How long to wait for /healthz 200 (default 60 s). */
  startTimeoutMs?: number;
  /** Echo every child's output to stderr (default: only when MINIS3_TEST_VERBOSE=1). */
  verbose?: boolean;
  /** Where dist/services/... lives (default: this repository); the harness's own tests use stubs. */
  root?: string;
  /**
   * Last changes to a process's spec before anything starts, with its final env (database URL
   * included): e.g. run a storage node in a network namespace (`wrapper`) at the namespace's address.
   */
  prepare?: (spec: ProcessSpec) => void;
  /** The MariaDB server to create the cluster's database on (default: MINIS3_MYSQL_URL, else the shared one). */
  mysqlUrl?: string;
  /** Every line a process prints, as printed (a test that counts a service's log lines: logs() keeps the last 200). */
  onLine?: (name: string, line: string) => void;
}

export interface TestCluster {
  httpUrl: string;
  /** The coordinator's S3 endpoint (path style: http://127.0.0.1:<port>). */
  s3Url: string;
  /** The key pair the cluster's coordinator accepts (MINIS3_ACCESS_KEY / MINIS3_SECRET_KEY). */
  accessKey: string;
  secretKey: string;
  /** The coordinator's gRPC address, host:port. */
  grpcAddress: string;
  dbName: string;
  mysqlUrl: string;
  redisUrl: string;
  /** The BullMQ prefix given to the services (MINIS3_QUEUE_PREFIX). */
  prefix: string;
  dataDir: string;
  specs: readonly ProcessSpec[];
  /** Every process with its pid (undefined while stopped) and restart count, right now. */
  readonly processes: ProcessStatus[];
  pid(name: string): number | undefined;
  /** Stops a node (or the coordinator) and keeps it stopped; SIGKILL simulates a crash. */
  stopNode(id: string, signal?: NodeJS.Signals): Promise<ExitInfo | undefined>;
  /** Starts a stopped node again, with the same id, port and data dir. */
  startNode(id: string): void;
  /** Graceful stop, then start. */
  restart(name: string): Promise<void>;
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** The last lines a process printed. */
  logs(name: string, lines?: number): string[];
  /** Stops every process, drops the database, deletes the queue keys and the data dir. */
  stop(): Promise<void>;
}

/**
 * Defaults that make a test cluster react in test time. Failure detection stays a few heartbeats
 * wide: two shared cores under jest can stall a process for a few hundred ms.
 */
const TEST_DEFAULTS: Record<string, string> = {
  MINIS3_LOG_LEVEL: "warn",
  // One coordinator process, so existing tests keep their meaning (cluster.pid("coordinator") is
  // the coordinator itself); a test that wants a group asks for MINIS3_COORDINATORS itself.
  MINIS3_COORDINATORS: "1",
  MINIS3_HEARTBEAT_INTERVAL: "250ms",
  MINIS3_NODE_DOWN_AFTER: "2s",
  MINIS3_RECONCILE_INTERVAL: "2s",
};

/** The same server URL with another database name. */
export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** The parent's env minus its own MINIS3_* settings, so a developer's shell cannot leak into a test. */
export function inheritedEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("MINIS3_")) out[k] = v;
  return out;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const storageNodes = opts.storageNodes ?? 3;
  const hex = randomBytes(5).toString("hex");
  const dbName = `minis3_t_${hex}`;
  const prefix = `minis3_t_${hex}`;
  const mysqlUrl = withDatabase(opts.mysqlUrl ?? process.env.MINIS3_MYSQL_URL ?? SETTINGS.mysqlUrl.default, dbName);
  const redisUrl = process.env.MINIS3_REDIS_URL ?? SETTINGS.redisUrl.default;
  const dataDir = await mkdtemp(join(tmpdir(), "minis3-cluster-"));
  // coordinator HTTP, gRPC, then the nodes: storage-1..N, backup-1, delete-1, then the coordinator's
  // S3 port, then one metrics port per process (coordinator, then the nodes)
  const base = await findFreePortBlock(2 * storageNodes + 8);
  const s3Port = base + storageNodes + 4;

  const env: Record<string, string> = {
    ...inheritedEnv(),
    ...TEST_DEFAULTS,
    MINIS3_HOST: "127.0.0.1",
    MINIS3_HTTP_PORT: String(base),
    MINIS3_GRPC_PORT: String(base + 1),
    MINIS3_NODE_BASE_PORT: String(base + 2),
    MINIS3_STORAGE_NODES: String(storageNodes),
    MINIS3_DATA_DIR: dataDir,
    MINIS3_MYSQL_URL: mysqlUrl,
    MINIS3_REDIS_URL: redisUrl,
    MINIS3_QUEUE_PREFIX: prefix,
    MINIS3_S3_PORT: String(s3Port),
    MINIS3_METRICS_BASE_PORT: String(s3Port + 1),
    // A key pair and cluster secret of the run's own: every front door and every node checks them.
    MINIS3_ACCESS_KEY: `test${hex}`,
    MINIS3_SECRET_KEY: randomBytes(20).toString("base64url"),
    MINIS3_CLUSTER_SECRET: newClusterSecret(),
    ...opts.env,
  };
  const root = opts.root ?? repoRoot(__dirname);
  const specs = planCluster(readClusterShape(env, root), env);
  for (const s of specs) {
    s.env = { ...s.env, ...opts.processEnv?.[s.name] };
    opts.prepare?.(s);
  }
  const missing = [...new Set(specs.map((s) => s.script))].filter((s) => !existsSync(s));
  if (missing.length) {
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`MiniS3 is not built: ${missing.join(", ")} missing (run \`npx tsc -p tsconfig.build.json\`)`);
  }

  const verbose = opts.verbose ?? process.env.MINIS3_TEST_VERBOSE === "1";
  const notices: string[] = [];
  const supervisor = new Supervisor(specs, {
    onLine: (name, _stream, line) => {
      opts.onLine?.(name, line);
      if (verbose) process.stderr.write(`[${name}] ${line}\n`);
    },
    onNotice: (m) => {
      notices.push(m);
      if (verbose) process.stderr.write(`[harness] ${m}\n`);
    },
    graceMs: 5_000,
    initialBackoffMs: 200,
    maxBackoffMs: 2_000,
  });
  let fatal: string | undefined;
  supervisor.on("fatal", (name: string, reason: string) => {
    fatal ??= `${name} ${reason}`;
  });

  const coordinator = specs.find((s) => s.kind === "coordinator")!;
  const httpUrl = `http://127.0.0.1:${coordinator.port}`;
  let stopped: Promise<void> | undefined;

  const cluster: TestCluster = {
    httpUrl,
    s3Url: `http://127.0.0.1:${env.MINIS3_S3_PORT}`,
    accessKey: env.MINIS3_ACCESS_KEY,
    secretKey: env.MINIS3_SECRET_KEY,
    grpcAddress: coordinator.address,
    dbName,
    mysqlUrl,
    redisUrl,
    prefix,
    dataDir,
    specs,
    get processes() {
      return supervisor.status();
    },
    pid: (name) => supervisor.pid(name),
    stopNode: (id, signal) => supervisor.stop(id, signal),
    startNode: (id) => supervisor.start(id),
    restart: (name) => supervisor.restart(name),
    waitHealthy: (timeoutMs = 30_000) => waitForHealthy(httpUrl, { timeoutMs, giveUp: () => fatal }),
    logs: (name, lines) => supervisor.tail(name, lines),
    stop: () => {
      forgetKeyPair([httpUrl, coordinator.address]);
      stopped ??= teardown(supervisor, { mysqlUrl, redisUrl, prefix, dataDir });
      return stopped;
    },
  };
  // The shared test clients, bench and chaos workload sign their calls with the cluster's key pair.
  rememberKeyPair([httpUrl, coordinator.address], { accessKey: env.MINIS3_ACCESS_KEY, secretKey: env.MINIS3_SECRET_KEY });

  supervisor.startAll();
  try {
    const wait = { timeoutMs: opts.startTimeoutMs ?? 60_000, giveUp: () => fatal };
    await waitForHealthy(httpUrl, wait);
    await waitForNodesLive(
      httpUrl,
      specs.filter((s) => s.kind !== "coordinator").map((s) => s.name),
      wait,
    );
  } catch (e) {
    // Stop first: the report then shows how every process ended, not a moment in which the
    // others had not yet failed the same way as the first.
    await cluster.stop().catch(() => undefined);
    throw new Error(`${(e as Error).message}\n${describeFailure(supervisor, notices)}`);
  }
  return cluster;
}

/** Best effort on every step, then the first failure is reported. */
export async function teardown(
  supervisor: Supervisor,
  t: { mysqlUrl: string; redisUrl: string; prefix: string; dataDir: string },
): Promise<void> {
  const results: PromiseSettledResult<unknown>[] = await Promise.allSettled([supervisor.stopAll()]);
  results.push(
    ...(await Promise.allSettled<unknown>([
      dropDatabase(t.mysqlUrl),
      deleteQueueKeys(t.redisUrl, t.prefix),
      rm(t.dataDir, { recursive: true, force: true }),
    ])),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Every process's state and last lines, with the supervisor's last notices: what a failed start reports. */
export function describeFailure(supervisor: Supervisor, notices: string[]): string {
  const parts = [notices.length ? `supervisor:\n  ${notices.slice(-10).join("\n  ")}` : ""];
  for (const p of supervisor.status()) {
    const tail = supervisor.tail(p.name, 15);
    const state = p.running ? `running (pid ${p.pid})` : `exited ${JSON.stringify(p.lastExit)}`;
    parts.push(`--- ${p.name}: ${state}, ${p.restarts} restarts\n${tail.map((l) => `  ${l}`).join("\n")}`);
  }
  return parts.filter(Boolean).join("\n");
}

/** For callers (the bench) that reuse a running cluster when there is one. */
export { isHealthy };
