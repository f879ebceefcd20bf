// Who may sign requests: access keys, their secrets, and the buckets each user may use.
// From MINIS3_ACCESS_KEY / MINIS3_SECRET_KEY (one user, every bucket) or MINIS3_KEYS_FILE.
import { readFileSync } from "node:fs";
import { z } from "zod";
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

const KeysFile = z.object({
  users: z
    .array(
      z.object({
        name: z.string().min(1).max(128),
        keys: z.array(z.object({ accessKey: z.string().regex(ACCESS_KEY), secretKey: z.string().min(8).max(256) })).min(1),
        buckets: z.union([z.literal("*"), z.array(z.string().min(1).max(255))]),
      }),
    )
    .min(1),
});
export type KeysFileContent = z.input<typeof KeysFile>;

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
    const r = KeysFile.safeParse(content);
    if (!r.success) {
      const why = r.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ");
      throw new ConfigError(`invalid configuration:\n  ${source}: ${why}`);
    }
    return new KeyStore(
      r.data.users.flatMap((u) =>
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
