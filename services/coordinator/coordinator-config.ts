import { loadConfig, type Config } from "../common/config";
import { HTTP_TIMEOUT_SETTINGS } from "./api/http-timeouts";

// The coordinator's settings, apart from what it opens with them (context.ts), so that a group's
// primary can check them all before it listens: it loads neither the engine nor the drivers.

const SETTINGS = [
  "host",
  "httpPort",
  "grpcPort",
  "s3Port",
  "s3Domain",
  "s3Region",
  "accessKey",
  "secretKey",
  "keysFile",
  "mysqlUrl",
  "redisUrl",
  "queuePrefix",
  "replicas",
  "writeQuorum",
  "maxObjectSize",
  "chunkSize",
  "readCache",
  "bodyCacheBytes",
  "largeUploads",
  "largeUploadWait",
  "uploadBuffer",
  "uploadBufferWait",
  "cacheLease",
  "hotTtl",
  "trashTtl",
  "reconcileInterval",
  "heartbeatInterval",
  "nodeDownAfter",
  "repairAfter",
  "repairRate",
  ...HTTP_TIMEOUT_SETTINGS,
  "scrubRate",
  "orphanGrace",
  "clusterSecret",
  "metricsPort",
] as const;

export type CoordinatorConfig = Config<(typeof SETTINGS)[number]>;

/** The coordinator's settings; a bad one stops the process (exit status 2) naming the variable. */
export function loadCoordinatorConfig(): CoordinatorConfig {
  const config = loadConfig(SETTINGS);
  // It is also the coordinator's presence lease, which must outlast a missed heartbeat or two.
  if (config.nodeDownAfter < 3 * config.heartbeatInterval) {
    process.stderr.write("minis3: invalid configuration:\n  MINIS3_NODE_DOWN_AFTER must be at least 3 × MINIS3_HEARTBEAT_INTERVAL\n");
    process.exit(2);
  }
  return config;
}
