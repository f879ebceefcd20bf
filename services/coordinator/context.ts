import type { Pool } from "mysql2/promise";
import type { DataSource } from "typeorm";
import { queuePrefix, resolveWriteQuorum } from "../common/config";
import { openDataSource, sqlPool } from "../common/db/datasource";
import type { Logger } from "../common/logger";
import { NODES_MIGRATIONS } from "../membership/nodes-schema";
import { AccessTracker } from "./catalogue/access-tracker";
import { Catalogue } from "./catalogue/catalogue";
import { CATALOGUE_MIGRATIONS } from "./catalogue/catalogue-schema";
import { ReadCache } from "./catalogue/read-cache";
import { CreateScrubState1732500000400 } from "./catalogue/scrub-schema";
import { coordinatorId, CoordinatorPresence } from "./cluster/coordinator-presence";
import { CacheFence } from "./cluster/cache-fence";
import { COORDINATOR_MIGRATIONS } from "./cluster/coordinators-schema";
import { InvalidationBus } from "./cluster/invalidation-bus";
import { NodeDirectory } from "./cluster/node-directory";
import { NodePool } from "./cluster/node-pool";
import { closeQueues, createQueues, redisClient, redisConnection, type LifecycleQueues } from "./lifecycle/queues";
import { Scheduler } from "./lifecycle/scheduler";
import { Placement } from "./placement/placement";
import { BodyCache } from "./replicas/body-cache";
import type { CoordinatorConfig } from "./coordinator-config";

/**
 * Unused: metrics went into the process's prom-client registry (common/metrics/registry.ts), which a
 * coordinator group's primary collects from each worker; each component defines its own next to it.
 */
export type Metrics = Readonly<Record<string, never>>;

/** Retrieval times are written to the catalogue once per this interval: a read costs a Map.set, not a MySQL write. */
const ACCESS_FLUSH_MS = 1000;

/**
 * A read within this share of the hot TTL of the catalogue's access time is held (AccessTracker):
 * at the default 30 min, 18 s, so another coordinator may demote an object read meanwhile that much
 * early (1 %); at the seconds tests use, every read is written at the next flush as before.
 */
const ACCESS_SLACK_SHARE = 0.01;
const ACCESS_SLACK_MAX_MS = 60_000;

/**
 * What the coordinator's parts share, built once at start-up (like Garage's `Arc<Garage>`).
 * Components take it, or the slice of it they need, in their constructor; nothing is set on them
 * afterwards. The object engine, the lifecycle and the admin status are built from it in main.ts.
 */
export interface CoordinatorContext {
  readonly config: CoordinatorConfig;
  /** MINIS3_WRITE_QUORUM resolved against the replica count. */
  readonly writeQuorum: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly db: DataSource;
  readonly pool: Pool;
  readonly directory: NodeDirectory;
  readonly nodes: NodePool;
  readonly placement: Placement;
  readonly presence: CoordinatorPresence;
  readonly cache: ReadCache;
  /** Small versions' bytes by version id (MINIS3_BODY_CACHE_BYTES), for the engine's reads and the lifecycle's copies. */
  readonly bodies: BodyCache;
  /** Keeps the read caches of all coordinators coherent (Redis pub/sub). */
  readonly cacheBus: InvalidationBus;
  readonly catalogue: Catalogue;
  readonly access: AccessTracker;
  readonly queues: LifecycleQueues;
  readonly scheduler: Scheduler;
}

/** Opens the database, the node directory, the coordinator presence and the queues, in that order. */
export async function openContext(config: CoordinatorConfig, log: Logger): Promise<CoordinatorContext> {
  const writeQuorum = resolveWriteQuorum(config.replicas, config.writeQuorum);
  const db = await openDataSource({
    url: config.mysqlUrl,
    migrations: [...NODES_MIGRATIONS, ...CATALOGUE_MIGRATIONS, ...COORDINATOR_MIGRATIONS, CreateScrubState1732500000400],
    poolSize: 24,
    multipleStatements: true,
  });
  const pool = sqlPool(db);
  const directory = new NodeDirectory(pool, config.heartbeatInterval, config.nodeDownAfter, log);
  await directory.start();
  const placement = new Placement(directory, config.replicas);
  if (config.clusterSecret === "") {
    log.warn("MINIS3_CLUSTER_SECRET is not set: this coordinator calls nodes without it (nodes that require one will refuse it)");
  }
  const nodes = new NodePool(directory, log, { clusterSecret: config.clusterSecret });
  // Read on each heartbeat: its lease must outlast one heartbeat answered late.
  const fence = new CacheFence(pool, Math.max(config.cacheLease, 2 * config.heartbeatInterval), log);
  const presence = new CoordinatorPresence(
    pool,
    coordinatorId(config.grpcPort),
    config.heartbeatInterval,
    config.nodeDownAfter,
    log,
    fence,
    undefined,
    config.metricsPort || null,
  );
  const cache = new ReadCache(config.readCache, () => cacheBus.leaseStretch());
  const cacheBus = new InvalidationBus(
    // Its own two connections: a subscribed one can do nothing else, and publishes must not wait
    // behind the queues' traffic.
    redisClient(config.redisUrl, "publish"),
    redisClient(config.redisUrl, "subscribe"),
    `${queuePrefix(config.queuePrefix)}:read-cache`,
    presence.id,
    config.cacheLease,
    (keys, versionIds) => cache.changed(keys, versionIds),
    config.readCache > 0,
    presence,
    fence,
    log,
  );
  cacheBus.start(); // first: its writes wait about one lease before they know every peer (rule 3)
  await presence.start(); // before any change is made here: other coordinators must know of this one
  const catalogue = new Catalogue(pool, config.trashTtl, cache, presence, cacheBus);
  const access = new AccessTracker(
    catalogue,
    ACCESS_FLUSH_MS,
    log,
    Math.min(ACCESS_SLACK_MAX_MS, Math.floor(config.hotTtl * ACCESS_SLACK_SHARE)),
  );
  access.start();
  const queues = createQueues(redisConnection(config.redisUrl), queuePrefix(config.queuePrefix), log);
  const scheduler = new Scheduler(queues.byName, log);
  return {
    config,
    writeQuorum,
    log,
    metrics: {},
    db,
    pool,
    directory,
    nodes,
    placement,
    presence,
    cache,
    bodies: new BodyCache(config.bodyCacheBytes, config.chunkSize),
    cacheBus,
    catalogue,
    access,
    queues,
    scheduler,
  };
}

/** Closes what openContext opened, the other way round (after the lifecycle's workers have stopped). */
export async function closeContext(ctx: CoordinatorContext): Promise<void> {
  const { log } = ctx;
  await closeQueues(ctx.queues);
  await ctx.access.stop();
  await ctx.cacheBus.close();
  await ctx.presence.leave().catch((e) => log.warn({ err: e }, "could not sign off as a coordinator"));
  ctx.directory.stop();
  ctx.nodes.close();
  await ctx.db.destroy();
}
