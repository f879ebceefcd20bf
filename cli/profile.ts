// Where `minis3` finds the cluster and the key pair to sign with, first match wins:
//   1. --profile NAME (or MINIS3_PROFILE): that profile of the credentials file, which must exist;
//   2. MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY in the environment;
//   3. the "default" profile of the credentials file, when the file has one;
//   4. ./data/credentials.json, the pair `npm start` makes (MINIS3_DATA_DIR moves it).
// The endpoint: --endpoint, else MINIS3_ENDPOINT, else the chosen profile's, else 127.0.0.1:8080.
// The credentials file is ${XDG_CONFIG_HOME:-~/.config}/minis3/credentials (MINIS3_CREDENTIALS_FILE
// moves it): INI, as the AWS CLI's, or JSON.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { CREDENTIALS_FILE, type KeyPair, readKeyPair } from "../deploy/launcher/credentials";
import { CliError, EXIT } from "./exit-codes";

export const DEFAULT_ENDPOINT = "http://127.0.0.1:8080";
const DEFAULT_DATA_DIR = "./data";

export interface Profile {
  endpoint?: string;
  accessKey?: string;
  secretKey?: string;
}

export interface Target {
  /** The facade's base URL, without a trailing slash. */
  endpoint: string;
  keys: KeyPair;
  /** Where the keys came from, for error messages. */
  source: string;
}

export function credentialsFilePath(env: NodeJS.ProcessEnv): string {
  if (env.MINIS3_CREDENTIALS_FILE) return resolve(env.MINIS3_CREDENTIALS_FILE);
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "minis3", "credentials");
}

/**
 * Profiles by name from an INI file (`[name]` sections of `endpoint`, `access_key`, `secret_key`;
 * `#` and `;` start comments) or a JSON one (`{"name": {"endpoint", "accessKey", "secretKey"}}`).
 */
export function parseProfiles(text: string, path: string): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  if (text.trimStart().startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new CliError(EXIT.usage, `${path}: not valid JSON: ${(e as Error).message}`);
    }
    for (const [name, p] of Object.entries(parsed as Record<string, Record<string, unknown>>)) {
      const str = (v: unknown) => (typeof v === "string" ? v : undefined);
      profiles.set(name, { endpoint: str(p?.endpoint), accessKey: str(p?.accessKey), secretKey: str(p?.secretKey) });
    }
    return profiles;
  }
  const FIELDS: Record<string, keyof Profile> = {
    endpoint: "endpoint",
    access_key: "accessKey",
    accesskey: "accessKey",
    secret_key: "secretKey",
    secretkey: "secretKey",
  };
  let current: Profile | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const section = /^\[\s*(?:profile\s+)?([^\]\s]+)\s*\]$/.exec(line);
    if (section) {
      current = profiles.get(section[1]) ?? {};
      profiles.set(section[1], current);
      return;
    }
    const eq = line.indexOf("=");
    const field = FIELDS[line.slice(0, Math.max(eq, 0)).trim().toLowerCase()];
    if (eq < 0 || !current || !field) {
      throw new CliError(EXIT.usage, `${path}:${i + 1}: expected [profile] or endpoint / access_key / secret_key = value, got "${line}"`);
    }
    current[field] = line.slice(eq + 1).trim();
  });
  return profiles;
}

function readProfiles(path: string): Map<string, Profile> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(EXIT.usage, `cannot read ${path}: ${(e as Error).message}`);
  }
  return parseProfiles(text, path);
}

function keysOf(p: Profile, where: string): KeyPair {
  if (!p.accessKey || !p.secretKey) throw new CliError(EXIT.usage, `${where} needs both access_key and secret_key`);
  return { accessKey: p.accessKey, secretKey: p.secretKey };
}

function checkedEndpoint(text: string, where: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(EXIT.usage, `${where}: "${text}" is not a URL (e.g. ${DEFAULT_ENDPOINT})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CliError(EXIT.usage, `${where}: "${text}" is not an http(s) URL`);
  if (url.search || url.hash) throw new CliError(EXIT.usage, `${where}: "${text}" must not have a query or fragment`);
  return url.toString().replace(/\/+$/, "");
}

/** The endpoint and key pair for this invocation; throws a usage CliError saying how to give them. */
export function resolveTarget(opts: { endpoint?: string; profile?: string }, env: NodeJS.ProcessEnv = process.env): Target {
  const file = credentialsFilePath(env);
  const named = opts.profile ?? env.MINIS3_PROFILE;
  let profile: Profile | undefined;
  let keys: KeyPair | undefined;
  let source = "";
  if (named) {
    const profiles = readProfiles(file);
    if (!profiles) throw new CliError(EXIT.usage, `profile "${named}": ${file} does not exist`);
    profile = profiles.get(named);
    if (!profile)
      throw new CliError(EXIT.usage, `profile "${named}" is not in ${file} (it has: ${[...profiles.keys()].join(", ") || "none"})`);
    source = `profile "${named}" of ${file}`;
    keys = keysOf(profile, source);
  } else if (env.MINIS3_ACCESS_KEY || env.MINIS3_SECRET_KEY) {
    if (!env.MINIS3_ACCESS_KEY || !env.MINIS3_SECRET_KEY) {
      throw new CliError(
        EXIT.usage,
        `set both MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY (only ${env.MINIS3_ACCESS_KEY ? "the access" : "the secret"} key is set)`,
      );
    }
    keys = { accessKey: env.MINIS3_ACCESS_KEY, secretKey: env.MINIS3_SECRET_KEY };
    source = "MINIS3_ACCESS_KEY / MINIS3_SECRET_KEY";
  } else {
    profile = readProfiles(file)?.get("default");
    if (profile) {
      source = `profile "default" of ${file}`;
      keys = keysOf(profile, source);
    } else {
      const dataDir = resolve(env.MINIS3_DATA_DIR || DEFAULT_DATA_DIR);
      try {
        keys = readKeyPair(dataDir);
      } catch (e) {
        throw new CliError(EXIT.usage, (e as Error).message);
      }
      source = join(dataDir, CREDENTIALS_FILE);
    }
  }
  if (!keys) {
    throw new CliError(
      EXIT.usage,
      `no credentials: set MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY, write a profile to ${file}, or run this where npm start keeps ./data/credentials.json`,
    );
  }
  if (opts.endpoint) return { endpoint: checkedEndpoint(opts.endpoint, "--endpoint"), keys, source };
  if (env.MINIS3_ENDPOINT) return { endpoint: checkedEndpoint(env.MINIS3_ENDPOINT, "MINIS3_ENDPOINT"), keys, source };
  if (profile?.endpoint) return { endpoint: checkedEndpoint(profile.endpoint, source), keys, source };
  return { endpoint: DEFAULT_ENDPOINT, keys, source };
}
