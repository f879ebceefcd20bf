import cluster from "node:cluster";
import * as grpc from "@grpc/grpc-js";
import { loadKeyStore } from "../auth/keys";
import { addHealthService } from "../rpc/health";
import { SERVER_OPTIONS, shutdownServer } from "../common/grpc";
import type { Logger } from "../common/logger";
import { measuringCalls } from "../common/metrics/grpc-metrics";
import { serveMetrics } from "../common/metrics/metrics-server";
import { startProcessMetrics } from "../common/metrics/registry";
import { watchProcess } from "../common/metrics/timeline";
import { registerClusterGauges } from "./admin/cluster-gauges";
import { onShutdown } from "../common/process";
import { NodeRemoval } from "./admin/node-removal";
import { ClusterStatus } from "./admin/status";
import { createHttpFacade } from "./api/http-facade";
import { drainWhileClosing, HTTP_DRAIN_MS } from "./api/http-drain";
import { httpTimeouts } from "./api/http-timeouts";
import { createS3Endpoint } from "./api/s3/s3-endpoint";
import { grpcCallers } from "./api/grpc-credentials";
import { addObjectServices } from "./api/object-grpc-service";
import { CoordinatorRoster } from "./cluster/coordinator-roster";
import { closeContext, openContext } from "./context";
import type { CoordinatorConfig } from "./coordinator-config";
import { listeningDoors, type FrontDoors } from "./front-doors";
import { GroupWorkerDoors } from "./group/worker-doors";
import { Lifecycle } from "./lifecycle/lifecycle";
import { BucketStore } from "./objects/bucket-store";
import { MultipartStore } from "./objects/multipart-store";
import { ObjectStore } from "./objects/object-store";
import { CRC_IMPLEMENTATION } from "../common/crc32";

/**
 * One coordinator: opens the context, serves HTTP and gRPC, and stops cleanly on SIGTERM. Run alone,
 * or as one of several workers of a group (group.ts) that share the listening ports.
 */
export async function serve(config: CoordinatorConfig, log: Logger): Promise<void> {
  startProcessMetrics({ service: "coordinator" });
  // Event-loop delay and GC pauses, a second at a time, for GET /status/timeline.
  watchProcess();
  const ctx = await openContext(config, log);
  const { config: cfg, writeQuorum } = ctx;
  // A worker of a group takes its connections from the primary, which listens (group/primary.ts).
  const doors: FrontDoors = cluster.isWorker
    ? new GroupWorkerDoors(
        log,
        { http: cfg.httpPort, grpc: cfg.grpcPort, s3: cfg.s3Port },
        HTTP_DRAIN_MS,
        () => ctx.presence.writableStretch() !== undefined,
      )
    : listeningDoors;

  // No cycle to break: the engine reports to the lifecycle through the ObjectEvents port and
  // undeletes through the Undeleter port; the lifecycle never calls the engine.
  const lifecycle = new Lifecycle(ctx, {
    hotTtlMs: cfg.hotTtl,
    repairAfterMs: cfg.repairAfter,
    replicas: cfg.replicas,
    writeQuorum,
    reconcileIntervalMs: cfg.reconcileInterval,
    chunkSize: cfg.chunkSize,
    trashTtlMs: cfg.trashTtl,
    scrubRate: cfg.scrubRate,
    orphanGraceMs: cfg.orphanGrace,
    repairRate: cfg.repairRate,
  });
  const store = new ObjectStore(
    { ...ctx, events: lifecycle, undeleter: lifecycle },
    {
      replicas: cfg.replicas,
      writeQuorum,
      maxObjectSize: cfg.maxObjectSize,
      chunkSize: cfg.chunkSize,
      hotTtlMs: cfg.hotTtl,
      largeUploads: { limit: cfg.largeUploads, waitMs: cfg.largeUploadWait },
      uploadBuffer: cfg.uploadBuffer > 0 ? { bytes: cfg.uploadBuffer, waitMs: cfg.uploadBufferWait } : undefined,
    },
  );
  const multipart = new MultipartStore(ctx, store, { maxObjectSize: cfg.maxObjectSize, chunkSize: cfg.chunkSize });
  // Queue depths come through the lifecycle, which adds the due-row poller's work to BullMQ's.
  const removal = new NodeRemoval(ctx, { replicas: cfg.replicas, intervalMs: cfg.reconcileInterval, graceMs: 2 * cfg.nodeDownAfter });
  const roster = new CoordinatorRoster(ctx.pool, ctx.presence);
  const admin = new ClusterStatus({
    ...ctx,
    scheduler: lifecycle,
    transitions: lifecycle,
    repairs: lifecycle,
    removal,
    roster,
    redis: ctx.scheduler,
  });
  registerClusterGauges({
    ...ctx,
    queues: ctx.scheduler,
    transitions: lifecycle,
    repairs: lifecycle,
    largeUploads: store.largeUploads,
    uploadBuffer: store.uploadBuffer,
  });
  lifecycle.start();
  removal.start();

  // Credentials on every front door (ARCHITECTURE.md "Authentication"). Without keys the facade and
  // gRPC serve anyone (development: `node dist/services/coordinator/main.js`); npm start always has keys.
  const keys = loadKeyStore(cfg);
  if (!keys)
    log.warn(
      "NO CREDENTIALS CONFIGURED (MINIS3_ACCESS_KEY / MINIS3_SECRET_KEY or MINIS3_KEYS_FILE): the HTTP facade and gRPC API serve ANYONE, the S3 endpoint refuses every request",
    );
  const grpcServer = new grpc.Server({ ...SERVER_OPTIONS, interceptors: [measuringCalls("grpc")] });
  addObjectServices(grpcServer, store, admin, log, grpcCallers(keys));
  // Open (no credentials), as /readyz: probes carry none. Serving = ready (admin/readiness.ts).
  addHealthService(grpcServer, {
    services: ["minis3.v1.ObjectService", "minis3.v1.AdminService"],
    probe: async () => (await admin.readiness()).ready,
  });
  const grpcPort = await doors.grpc(grpcServer, cfg.host, cfg.grpcPort);

  const http = createHttpFacade(store, admin, {
    maxObjectSize: cfg.maxObjectSize,
    logger: log,
    timeouts: httpTimeouts(cfg),
    keys,
  });
  await http.ready();
  const httpPort = await doors.http(http.server, cfg.host, cfg.httpPort);

  // The S3 REST endpoint: every request signed (SigV4). Without keys it answers 403 to all, saying what to set.
  const s3 = createS3Endpoint(
    { engine: store, buckets: new BucketStore(ctx.catalogue), multipart, maxObjectSize: cfg.maxObjectSize, region: cfg.s3Region },
    { keys, domain: cfg.s3Domain, timeouts: httpTimeouts(cfg), logger: log },
  );
  const s3Port = await doors.s3(s3, cfg.host, cfg.s3Port);
  doors.open();

  // A group's workers answer the primary (main.ts), which serves all of theirs merged.
  const metrics = cluster.isWorker ? undefined : await serveMetrics(cfg.host, cfg.metricsPort, log);

  log.info(
    {
      http: `http://${cfg.host}:${httpPort}`,
      grpc: `${cfg.host}:${grpcPort}`,
      s3: `http://${cfg.host}:${s3Port}`,
      ...(metrics ? { metrics: `http://${cfg.host}:${metrics.port}/metrics` } : {}),
      replicas: cfg.replicas,
      writeQuorum,
      storageNodes: ctx.directory.ofKind("storage").map((n) => `${n.id}${n.live ? "" : " (down)"}`),
      crc: CRC_IMPLEMENTATION,
    },
    "coordinator ready",
  );

  onShutdown(log, async () => {
    drainWhileClosing(s3);
    await Promise.all([http.close(), new Promise((resolve) => s3.close(resolve)), doors.close(), metrics?.close()]);
    await shutdownServer(grpcServer);
    await store.close();
    removal.stop();
    await lifecycle.stop();
    await closeContext(ctx);
  });
}
