import { readConfig, SETTINGS, type SettingKey } from "../../services/common/config";
import type { ClusterShape } from "./plan";

/** The settings that shape the cluster; all others are passed through to the services. */
const SHAPE_KEYS = ["host", "httpPort", "grpcPort", "nodeBasePort", "metricsBasePort", "storageNodes", "dataDir"] as const;

/** Settings the plan sets per node, so a value in the launcher's env is not checked (it is replaced). */
const PER_NODE_KEYS: readonly SettingKey[] = ["nodeId", "nodePort", "nodeAddress", "metricsPort"];

/** Every setting the launcher checks before starting anything: a bad value fails once, up front. */
export const LAUNCHER_CHECKED_KEYS = (Object.keys(SETTINGS) as SettingKey[]).filter((k) => !PER_NODE_KEYS.includes(k));

/**
 * Reads and validates the launcher's configuration from env (throws ConfigError naming every bad
 * variable, as the services would at their own start).
 */
export function readClusterShape(env: NodeJS.ProcessEnv, repoRoot: string): ClusterShape {
  readConfig(LAUNCHER_CHECKED_KEYS, env);
  const c = readConfig(SHAPE_KEYS, env);
  return { ...c, repoRoot };
}
