import { randomBytes, randomInt } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// `npm start` always runs with credentials: what the user did not configure is made on first start
// and kept in the data directory (mode 0600, readable by its owner only), so the next start reuses it.

/** The cluster secret every coordinator and node shares (MINIS3_CLUSTER_SECRET). */
export const CLUSTER_SECRET_FILE = "cluster-secret";
/** The key pair clients sign with, as JSON {accessKey, secretKey}. */
export const CREDENTIALS_FILE = "credentials.json";

export interface KeyPair {
  accessKey: string;
  secretKey: string;
}

function randomText(alphabet: string, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

const UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LETTERS_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Shaped like AWS's, so tools that check accept it: a 20-character access key (upper case and
 * digits) and a 40-character secret; letters and digits only, so no shell or URL needs escaping.
 */
export function newKeyPair(): KeyPair {
  return { accessKey: "MS3" + randomText(UPPER_DIGITS, 17), secretKey: randomText(LETTERS_DIGITS, 40) };
}

/** The key pair kept in a data dir (npm start's), or undefined when there is none yet. */
export function readKeyPair(dataDir: string): KeyPair | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, CREDENTIALS_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const parsed = JSON.parse(text) as Partial<KeyPair>;
  if (typeof parsed.accessKey !== "string" || typeof parsed.secretKey !== "string") {
    throw new Error(`${join(dataDir, CREDENTIALS_FILE)}: expected {"accessKey": "...", "secretKey": "..."}`);
  }
  return { accessKey: parsed.accessKey, secretKey: parsed.secretKey };
}

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

/**
 * What the launcher adds to its children's env: the settings the user left unset, from the data dir
 * (made there on first start). `keyPair` is the one clients use, when the launcher knows it (not
 * with a keys file).
 */
export function launcherCredentials(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): { env: Record<string, string>; notes: string[]; keyPair?: KeyPair } {
  const out: Record<string, string> = {};
  const notes: string[] = [];
  let keyPair: KeyPair | undefined;
  if (env.MINIS3_ACCESS_KEY && env.MINIS3_SECRET_KEY) {
    keyPair = { accessKey: env.MINIS3_ACCESS_KEY, secretKey: env.MINIS3_SECRET_KEY };
  } else if (!env.MINIS3_ACCESS_KEY && !env.MINIS3_SECRET_KEY && !env.MINIS3_KEYS_FILE) {
    const kept = keptInDataDir(dataDir, CREDENTIALS_FILE, () => JSON.stringify(newKeyPair(), null, 2) + "\n");
    keyPair = readKeyPair(dataDir)!;
    out.MINIS3_ACCESS_KEY = keyPair.accessKey;
    out.MINIS3_SECRET_KEY = keyPair.secretKey;
    if (kept.created) notes.push(`made a key pair for clients: ${join(dataDir, CREDENTIALS_FILE)}`);
  }
  if (!env.MINIS3_CLUSTER_SECRET) {
    const s = keptInDataDir(dataDir, CLUSTER_SECRET_FILE, newClusterSecret);
    out.MINIS3_CLUSTER_SECRET = s.value;
    if (s.created) notes.push(`made a cluster secret for node-to-node calls: ${join(dataDir, CLUSTER_SECRET_FILE)}`);
  }
  return { env: out, notes, keyPair };
}
