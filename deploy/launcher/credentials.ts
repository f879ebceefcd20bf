import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// `npm start` always runs with credentials: what the user did not configure is made on first start
// and kept in the data directory (mode 0600, readable by its owner only), so the next start reuses it.

/** The cluster secret every coordinator and node shares (MINIS3_CLUSTER_SECRET). */
export const CLUSTER_SECRET_FILE = "cluster-secret";

/** 32 random bytes as base64url: 43 characters, no padding, nothing a shell or URL must escape. */
export function newClusterSecret(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The content of `<dir>/<name>`, or `make()` written there first (created exclusively with mode
 * 0600: two launchers racing on one data dir keep the first one's and both read it).
 */
export function keptInDataDir(dir: string, name: string, make: () => string): { value: string; created: boolean } {
  const path = join(dir, name);
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(path, make(), { flag: "wx", mode: 0o600 });
    return { value: readFileSync(path, "utf8").trim(), created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return { value: readFileSync(path, "utf8").trim(), created: false };
  }
}

/** What the launcher adds to its children's env: the settings the user left unset, from the data dir. */
export function launcherCredentials(env: NodeJS.ProcessEnv, dataDir: string): { env: Record<string, string>; notes: string[] } {
  const out: Record<string, string> = {};
  const notes: string[] = [];
  if (!env.MINIS3_CLUSTER_SECRET) {
    const s = keptInDataDir(dataDir, CLUSTER_SECRET_FILE, newClusterSecret);
    out.MINIS3_CLUSTER_SECRET = s.value;
    if (s.created) notes.push(`made a cluster secret for node-to-node calls: ${join(dataDir, CLUSTER_SECRET_FILE)}`);
  }
  return { env: out, notes };
}
