import { mintBearerToken } from "../../services/auth/bearer-token";
import { resolve } from "node:path";
import { SETTINGS } from "../../services/common/config";
import { type KeyPair, readKeyPair } from "./credentials";

// The key pair a client in this process signs with, by the address it calls: test clusters
// (cluster.ts) register theirs, so the shared test clients, the bench and the chaos workload sign
// every facade and gRPC call without being handed keys; a cluster started elsewhere is reached with
// MINIS3_ACCESS_KEY / MINIS3_SECRET_KEY from this process's environment, else with the pair npm
// start keeps in MINIS3_DATA_DIR (default ./data).

const byAddress = new Map<string, KeyPair>();
let fromEnv: KeyPair | undefined;
let fromDataDir: KeyPair | null | undefined;

/** "http://127.0.0.1:8080/x" and "127.0.0.1:50051" both as "127.0.0.1:8080" / "127.0.0.1:50051". */
function addressOf(urlOrAddress: string): string {
  return /^[a-z]+:\/\//i.test(urlOrAddress) ? new URL(urlOrAddress).host : urlOrAddress;
}

const clockOffsets = new Map<string, number>();

/**
 * Calls to these endpoints sign as if this process's clock were `offsetMs` ahead: a server whose
 * clock differs by more than a token's 15 minutes refuses it (RequestTimeTooSkewed), and a client
 * must then sign on the server's time, as the AWS SDKs do with the offset they learn from it.
 */
export function rememberClockOffset(endpoints: readonly string[], offsetMs: number): void {
  for (const e of endpoints) clockOffsets.set(addressOf(e), offsetMs);
}

/** Calls to these endpoints (URLs or host:port) sign with `pair`. */
export function rememberKeyPair(endpoints: readonly string[], pair: KeyPair): void {
  for (const e of endpoints) byAddress.set(addressOf(e), pair);
}

export function forgetKeyPair(endpoints: readonly string[]): void {
  for (const e of endpoints) byAddress.delete(addressOf(e));
}

/** The key pair for calls to this endpoint, if any is known. */
export function keyPairFor(urlOrAddress: string, env: NodeJS.ProcessEnv = process.env): KeyPair | undefined {
  const known = byAddress.get(addressOf(urlOrAddress));
  if (known) return known;
  if (env.MINIS3_ACCESS_KEY && env.MINIS3_SECRET_KEY) {
    if (fromEnv?.accessKey !== env.MINIS3_ACCESS_KEY || fromEnv.secretKey !== env.MINIS3_SECRET_KEY) {
      fromEnv = { accessKey: env.MINIS3_ACCESS_KEY, secretKey: env.MINIS3_SECRET_KEY };
    }
    return fromEnv;
  }
  // The pair npm start keeps in its data dir: `npm run bench` and `npm run chaos` against it sign with it.
  fromDataDir ??= readKeyPair(resolve(env.MINIS3_DATA_DIR || SETTINGS.dataDir.default)) ?? null;
  return fromDataDir ?? undefined;
}

/** A token is made again after this long (it is good for 15 minutes): the bench signs every request. */
const TOKEN_REUSE_MS = 60_000;
const tokens = new WeakMap<KeyPair, { token: string; madeAt: number }>();

/** `{ authorization: "Bearer <token>" }` for a call to this endpoint, or {} when no key pair is known. */
export function authorizationFor(urlOrAddress: string): Record<string, string> {
  const pair = keyPairFor(urlOrAddress);
  if (!pair) return {};
  const offset = clockOffsets.get(addressOf(urlOrAddress)) ?? 0;
  if (offset !== 0) return { authorization: `Bearer ${mintBearerToken(pair.accessKey, pair.secretKey, Date.now() + offset)}` };
  const now = Date.now();
  let made = tokens.get(pair);
  if (!made || now - made.madeAt > TOKEN_REUSE_MS) {
    made = { token: mintBearerToken(pair.accessKey, pair.secretKey, now), madeAt: now };
    tokens.set(pair, made);
  }
  return { authorization: `Bearer ${made.token}` };
}
