import * as grpc from "@grpc/grpc-js";
import { loadConfig, queuePrefix, resolveWriteQuorum } from "../common/config";
import { openDataSource, sqlPool } from "../common/db/datasource";
import { CreateNodes1732500000000 } from "../membership/nodes-schema";
import { bindServer, SERVER_OPTIONS, shutdownServer } from "../common/grpc";
import { createLogger } from "../common/logger";
import { NodeDirectory } from "./cluster/node-directory";
import { onShutdown, runMain } from "../common/process";
import { createHttpFacade } from "./api/http-facade";
import { addObjectServices } from "./api/object-grpc-service";
import { AccessTracker } from "./catalogue/access-tracker";
import { Catalogue } from "./catalogue/catalogue";
import { CreateCatalogue1732500000100 } from "./catalogue/catalogue-schema";
import { ReadCache } from "./catalogue/read-cache";
import { coordinatorId, CoordinatorPresence } from "./cluster/coordinator-presence";
import { CreateCoordinators1732500000200 } from "./cluster/coordinators-schema";
import { NodePool } from "./cluster/node-pool";
import { BlobCopier } from "./lifecycle/blob-copier";
import { Lifecycle } from "./lifecycle/lifecycle";
import { redisConnection } from "./lifecycle/queues";
import { Reconciler } from "./lifecycle/reconciler";
import { Transitions } from "./lifecycle/transitions";
import { ObjectStore } from "./objects/object-store";
import { Placement } from "./placement/placement";

const log = createLogger("coordinator");

runMain(log, async () => {
  const cfg = loadConfig([
    "host", "httpPort", "grpcPort", "mysqlUrl", "redisUrl", "queuePrefix", "replicas", "writeQuorum", "maxObjectSize",
    "chunkSize", "readCache", "hotTtl", "trashTtl", "reconcileInterval", "heartbeatInterval", "nodeDownAfter", "repairAfter",
  ] as const);
  const writeQuorum = resolveWriteQuorum(cfg.replicas, cfg.writeQuorum);

  const ds = await openDataSource({ url: cfg.mysqlUrl, migrations: [CreateNodes1732500000000, CreateCatalogue1732500000100, CreateCoordinators1732500000200], poolSize: 24, multipleStatements: true });
  const pool = sqlPool(ds);
  const directory = new NodeDirectory(pool, cfg.heartbeatInterval, cfg.nodeDownAfter, log);
  await directory.start();
  const placement = new Placement(directory, cfg.replicas);
  const nodes = new NodePool(directory, log);
  const presence = new CoordinatorPresence(pool, coordinatorId(cfg.grpcPort), cfg.heartbeatInterval, cfg.nodeDownAfter, log);
  const cache = new ReadCache(cfg.readCache, () => presence.aloneStretch());
  await presence.start(); // before any change is made here: other coordinators must know of this one
  const catalogue = new Catalogue(pool, cfg.trashTtl, cache);
  const access = new AccessTracker(catalogue, 1000, log);
  access.start();
  const store = new ObjectStore(catalogue, placement, nodes, directory, access,
    { replicas: cfg.replicas, writeQuorum, maxObjectSize: cfg.maxObjectSize, chunkSize: cfg.chunkSize }, log);

  const lifecycle = new Lifecycle(redisConnection(cfg.redisUrl), queuePrefix(cfg.queuePrefix), cfg.reconcileInterval, log);
  const transitions = new Transitions(catalogue, nodes, placement, new BlobCopier(nodes, log, cfg.chunkSize), access, lifecycle.scheduler,
    { hotTtlMs: cfg.hotTtl, repairAfterMs: cfg.repairAfter, replicas: cfg.replicas, writeQuorum }, log);
  await lifecycle.start(transitions, new Reconciler(catalogue, lifecycle.scheduler, cfg.hotTtl, cfg.reconcileInterval, log,
    () => nodes.storageNodesDownLongerThan(cfg.repairAfter)));
  store.events = lifecycle.scheduler;
  store.coordination = () => ({
    coordinators: [{ id: presence.id, self: true }, ...presence.others().map((id) => ({ id, self: false }))],
    readCache: { enabled: cache.enabled, rows: cache.size },
  });
  store.lifecycle = lifecycle;

  const grpcServer = new grpc.Server(SERVER_OPTIONS);
  addObjectServices(grpcServer, store);
  const grpcPort = await bindServer(grpcServer, cfg.host, cfg.grpcPort);

  const http = createHttpFacade(store, { maxObjectSize: cfg.maxObjectSize, logger: log });
  await http.listen({ host: cfg.host, port: cfg.httpPort });
  const httpPort = (http.server.address() as { port: number }).port;

  log.info({ http: `http://${cfg.host}:${httpPort}`, grpc: `${cfg.host}:${grpcPort}`, replicas: cfg.replicas, writeQuorum,
    storageNodes: directory.ofKind("storage").map((n) => `${n.id}${n.live ? "" : " (down)"}`) }, "coordinator ready");

  onShutdown(log, async () => {
    await http.close();
    await shutdownServer(grpcServer);
    await lifecycle.stop();
    await access.stop();
    await presence.leave().catch((e) => log.warn({ err: e }, "could not sign off as a coordinator"));
    directory.stop();
    nodes.close();
    await ds.destroy();
  });
});
