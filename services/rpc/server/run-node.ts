import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Pool } from "mysql2/promise";
import { loadConfig } from "../../common/config";
import type { MigrationClass } from "../../common/db/datasource";
import { NODES_MIGRATIONS } from "../../membership/nodes-schema";
import { createLogger, type Logger } from "../../common/logger";
import { dialableHost, hostPort } from "../../common/net-address";
import { Heartbeat } from "../../membership/heartbeat";
import { resolveNodeId } from "../../membership/node-id";
import type { NodeKind } from "../../membership/node-record";
import { onShutdown, runMain } from "../../common/process";
import type { BlobBackend } from "../blob-backend";
import { startNodeServer } from "./node-server";
import { registerStoreGauges } from "./node-metrics";
import { serveMetrics } from "../../common/metrics/metrics-server";
import { startProcessMetrics } from "../../common/metrics/registry";
import { CRC_IMPLEMENTATION } from "../../common/crc32";

export interface NodeContext {
  id: string;
  dataDir: string;
  /**
   * The node's MariaDB pool, its tables made: opened on the first call. A backend that keeps its
   * bytes on disk never waits for it, so the node serves before it has loaded mysql2 or reached
   * MariaDB (its heartbeat starts after).
   */
  database(): Promise<Pool>;
  log: Logger;
  chunkSize: number;
  /** MINIS3_NODE_MAX_SMALL_BLOBS: what a disk backend's segment index may hold (0: from the heap's limit). */
  maxSmallBlobs: number;
}

export interface RunNodeOptions {
  kind: NodeKind;
  /** The kind's own (idempotent) migrations, next to the nodes table. */
  migrations?: MigrationClass[];
  makeBackend(ctx: NodeContext): BlobBackend | Promise<BlobBackend>;
  /** The backend keeps its bytes in MariaDB (the backup node): the health service asks it too. */
  servesFromDatabase?: boolean;
}

/** The main() of every node kind: config, identity, catalogue, backend, gRPC server, heartbeat. */
export function runNode(opts: RunNodeOptions): void {
  const bootLog = createLogger(`${opts.kind}-node`);
  runMain(bootLog, () => startNode(opts, bootLog));
}

async function startNode(opts: RunNodeOptions, bootLog: Logger): Promise<void> {
  const cfg = loadConfig([
    "host",
    "nodePort",
    "nodeAddress",
    "nodeId",
    "dataDir",
    "mysqlUrl",
    "zone",
    "heartbeatInterval",
    "chunkSize",
    "maxSmallBlobs",
    "clusterSecret",
    "logLevel",
    "metricsPort",
  ] as const);
  const dataDir = resolve(cfg.dataDir);
  await mkdir(dataDir, { recursive: true });
  const id = await resolveNodeId(cfg.nodeId, dataDir, opts.kind);
  const log = bootLog.child({ node: id });
  startProcessMetrics({ service: opts.kind, node: id });

  // Loaded and opened on first use (lazily: mysql2 alone is 0.3-0.5 s of a restart under load).
  let opened: Promise<Pool> | undefined;
  const database = () =>
    (opened ??= import("../../common/db/node-migrations").then((m) =>
      m.openNodeDatabase(cfg.mysqlUrl, [...NODES_MIGRATIONS, ...(opts.migrations ?? [])]),
    ));
  const backend = await opts.makeBackend({ id, dataDir, database, log, chunkSize: cfg.chunkSize, maxSmallBlobs: cfg.maxSmallBlobs });
  await backend.open();

  if (cfg.clusterSecret === "") {
    log.warn(
      "MINIS3_CLUSTER_SECRET is not set: this node serves ANYONE who reaches its port (reads, writes, deletes); set it on every coordinator and node",
    );
  }
  const server = await startNodeServer(backend, cfg.host, cfg.nodePort, {
    id,
    chunkSize: cfg.chunkSize,
    log,
    clusterSecret: cfg.clusterSecret,
    ready: opts.servesFromDatabase ? () => database().then((pool) => pool.query("SELECT 1").then(() => true)) : undefined,
  });
  const address = cfg.nodeAddress || hostPort(dialableHost(cfg.host), server.port);
  // A restarted node is routable from here (coordinators probe a suspected node every 250 ms), before
  // its heartbeat: this line times a restart's serving part (chaos runs measure kill to listening).
  log.info({ address, sinceStartMs: Math.round(process.uptime() * 1000) }, "listening");
  const pool = await database();
  const heartbeat = new Heartbeat(
    pool,
    { id, kind: opts.kind, address, zone: cfg.zone, metricsPort: cfg.metricsPort || null },
    cfg.heartbeatInterval,
    () => backend.stats(),
    log,
  );
  await heartbeat.start();
  registerStoreGauges(backend);
  const metrics = await serveMetrics(cfg.host, cfg.metricsPort, log);
  log.info(
    { id, kind: opts.kind, address, dataDir, crc: CRC_IMPLEMENTATION, ...(metrics ? { metricsPort: metrics.port } : {}) },
    "node started",
  );

  onShutdown(log, async () => {
    // Leave first so coordinators stop routing here, then drain calls in flight.
    await heartbeat.leave().catch((e) => log.warn({ err: e }, "could not mark the node down"));
    await server.stop();
    await metrics?.close();
    await backend.close();
    await pool.end();
  });
}
