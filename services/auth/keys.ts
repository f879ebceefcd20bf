// Who may sign requests: access keys, their secrets, and the buckets each user may use.
// From MINIS3_ACCESS_KEY / MINIS3_SECRET_KEY (one user, every bucket) or MINIS3_KEYS_FILE.
import { readFileSync } from "node:fs";
import { ConfigError } from "../common/config";
import { ErrorCode, MiniS3Error } from "../common/errors";

export interface Identity {
  /** The user's name (the access key for the single-key configuration). */
  user: string;
  accessKey: string;
  /** "*" for every bucket, else exact names and `prefix*` patterns. */
  buckets: "*" | readonly string[];
}

export interface Credential {
  identity: Identity;
  secretKey: string;
}

const ACCESS_KEY = /^[A-Za-z0-9._~+=-]{3,128}$/;

/** A keys file's content once checked (parseKeysFile). */
export interface KeysFileContent {
  users: { name: string; keys: { accessKey: string; secretKey: string }[]; buckets: "*" | string[] }[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A keys file's JSON checked by hand, each problem as "path: what is wrong": the last zod schema
 * in the tree, and zod's require cost the coordinator ~0.1 s of its start on a quiet machine (more
 * under load: 0.6-0.8 s for a node, config-checks.ts), time a restarted coordinator is away.
 */
function parseKeysFile(content: unknown): KeysFileContent | string[] {
  const issues: string[] = [];
  const at = (path: (string | number)[], message: string) => issues.push(`${path.join(".") || "(top)"}: ${message}`);
  const text = (v: unknown, path: (string | number)[], min: number, max: number, pattern?: RegExp) => {
    if (typeof v !== "string") at(path, "expected a string");
    else if (v.length < min || v.length > max) at(path, `must be ${min} to ${max} characters`);
    else if (pattern && !pattern.test(v)) at(path, `must match ${pattern}`);
  };
  const list = (v: unknown, path: (string | number)[], what: string, each: (item: unknown, p: (string | number)[]) => void) => {
    if (!Array.isArray(v)) at(path, "expected an array");
    else if (v.length === 0) at(path, `at least one ${what}`);
    else v.forEach((item, i) => each(item, [...path, i]));
  };
  if (!isObject(content)) at([], "expected an object");
  else
    list(content.users, ["users"], "user", (u, p) => {
      if (!isObject(u)) return at(p, "expected an object");
      text(u.name, [...p, "name"], 1, 128);
      list(u.keys, [...p, "keys"], "key", (k, kp) => {
        if (!isObject(k)) return at(kp, "expected an object");
        text(k.accessKey, [...kp, "accessKey"], 3, 128, ACCESS_KEY);
        text(k.secretKey, [...kp, "secretKey"], 8, 256);
      });
      if (u.buckets === "*") return;
      if (!Array.isArray(u.buckets)) return at([...p, "buckets"], 'expected "*" or a list of bucket names');
      u.buckets.forEach((b, i) => text(b, [...p, "buckets", i], 1, 255));
    });
  return issues.length ? issues : (content as unknown as KeysFileContent);
}

export class KeyStore {
  private readonly byAccessKey = new Map<string, Credential>();

  constructor(credentials: readonly Credential[]) {
    for (const c of credentials) {
      if (this.byAccessKey.has(c.identity.accessKey)) throw new ConfigError(`access key ${c.identity.accessKey} is listed twice`);
      this.byAccessKey.set(c.identity.accessKey, c);
    }
  }

  /** The credential of an access key, or undefined. */
  lookup(accessKey: string): Credential | undefined {
    return this.byAccessKey.get(accessKey);
  }

  get size(): number {
    return this.byAccessKey.size;
  }

  /** One user, allowed every bucket. */
  static single(accessKey: string, secretKey: string): KeyStore {
    return new KeyStore([{ identity: { user: accessKey, accessKey, buckets: "*" }, secretKey }]);
  }

  /** The users of a keys file's content (parsed JSON); ConfigError names what is wrong. */
  static fromFileContent(content: unknown, source = "MINIS3_KEYS_FILE"): KeyStore {
    const r = parseKeysFile(content);
    if (Array.isArray(r)) throw new ConfigError(`invalid configuration:\n  ${source}: ${r.join("; ")}`);
    return new KeyStore(
      r.users.flatMap((u) =>
        u.keys.map((k) => ({ identity: { user: u.name, accessKey: k.accessKey, buckets: u.buckets }, secretKey: k.secretKey })),
      ),
    );
  }
}

/**
 * The key store configured, or undefined when no key is (the launcher then makes one). Settings:
 * accessKey/secretKey (both or neither) or keysFile, not both.
 */
export function loadKeyStore(c: { accessKey: string; secretKey: string; keysFile: string }): KeyStore | undefined {
  if ((c.accessKey === "") !== (c.secretKey === "")) {
    throw new ConfigError("invalid configuration:\n  MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY go together: set both or neither");
  }
  if (c.keysFile !== "" && c.accessKey !== "") {
    throw new ConfigError("invalid configuration:\n  MINIS3_KEYS_FILE and MINIS3_ACCESS_KEY both set: use one");
  }
  if (c.accessKey !== "") {
    if (c.secretKey.length < 8) throw new ConfigError("invalid configuration:\n  MINIS3_SECRET_KEY: at least 8 characters");
    return KeyStore.single(c.accessKey, c.secretKey);
  }
  if (c.keysFile === "") return undefined;
  let content: unknown;
  try {
    content = JSON.parse(readFileSync(c.keysFile, "utf8"));
  } catch (e) {
    throw new ConfigError(`invalid configuration:\n  MINIS3_KEYS_FILE=${JSON.stringify(c.keysFile)}: ${(e as Error).message}`);
  }
  return KeyStore.fromFileContent(content, `MINIS3_KEYS_FILE=${JSON.stringify(c.keysFile)}`);
}

export function mayUseBucket(identity: Identity, bucket: string): boolean {
  if (identity.buckets === "*") return true;
  return identity.buckets.some((b) => (b.endsWith("*") ? bucket.startsWith(b.slice(0, -1)) : b === bucket));
}

/** AccessDenied unless the identity may use the bucket. */
export function checkBucketAccess(identity: Identity, bucket: string): void {
  if (!mayUseBucket(identity, bucket)) {
    throw new MiniS3Error(ErrorCode.AccessDenied, `user ${identity.user} may not use bucket ${bucket}`);
  }
}
