import { parseArgs } from "node:util";
import { ErrorCode, MiniS3Error } from "../services/common/errors";
import { parseDuration, parseSize } from "../services/common/units";

// The bench's settings: flags, or BENCH_<NAME> environment variables (flags win).

export const PHASES = [
  "mixed",
  "mixed-s3",
  "overwrite",
  "overwrite-s3",
  "large",
  "large-parallel",
  "large-s3",
  "large-s3-parallel",
  "large-s3-sdk",
  "large-s3-multipart",
  "large-overwrite",
  "large-burst",
  "huge",
  "tiers",
  "transitions",
  "lifecycle",
] as const;
export type Phase = (typeof PHASES)[number];

/** Phases that start, load and stop a cluster of their own (tiers.ts, transitions.ts, lifecycle.ts). */
const OWN_CLUSTER_PHASES: readonly Phase[] = ["tiers", "transitions", "lifecycle"];

/**
 * Whether any of these phases loads the bench's target (--url, :8080 or a private cluster). With
 * only own-cluster phases, a target would be six idle processes sharing the cores with the one
 * measured (bench/README "The lifecycle alone", Step 5).
 */
export function needsTarget(phases: readonly Phase[]): boolean {
  return phases.some((p) => !OWN_CLUSTER_PHASES.includes(p));
}

export interface Mix {
  upload: number;
  retrieve: number;
  delete: number;
}

export interface BenchArgs {
  /** Target coordinator, or undefined: use 127.0.0.1:8080 if it answers, else start a cluster. */
  url: string | undefined;
  /** The S3 endpoint of a cluster the bench did not start (its own cluster's is known). */
  s3Url: string;
  concurrency: number;
  /** Bytes per object in the mixed phase. */
  size: number;
  durationMs: number;
  /** Unmeasured mixed load first, so the figures are of warm processes (JIT, caches). */
  warmupMs: number;
  /** Upper bound on operations in the mixed phase, whatever the duration. */
  maxOps: number;
  mix: Mix;
  /** The overwrite phases' weights, over a fixed set of `keySet` keys seeded first. */
  overwriteMix: Mix;
  keySet: number;
  largeBytes: number;
  /** Objects of largeBytes each timed up and back; the median is reported. */
  largePasses: number;
  /** Unmeasured passes of the same shape before them (a fresh cluster's first ones run cold). */
  largeWarmup: number;
  /** Those of a system's first large row instead: its large path's first objects run cold for longer. */
  largeFirstWarmup: number;
  /** Objects moved at once in the large-parallel phases. */
  largeInFlight: number;
  /** Objects uploaded at once in the large-burst phase (more than a coordinator streams at a time). */
  largeBurst: number;
  hugeBytes: number;
  phases: Phase[];
  /** Also run the S3 workloads against s3rver, in the same sitting, and report the ratios. */
  compare: boolean;
  /** Objects and their size in the tiers phase. */
  tierObjects: number;
  tierSize: number;
  /** Objects taken through demotion, trash and purge in the transitions phase, and their TTLs. */
  transitionObjects: number;
  transitionTtlMs: number;
  /** The lifecycle phase: objects seeded, the window their due times spread over, the hot TTL. */
  lifecycleObjects: number;
  lifecycleWindowMs: number;
  lifecycleTtlMs: number;
  /** `node --cpu-prof` for every process of a cluster the bench starts, into this directory. */
  cpuProfDir: string | undefined;
  /** Storage nodes of a cluster the bench starts itself. */
  storageNodes: number;
  /** MINIS3_* settings for a cluster the bench starts itself (the harness strips the shell's). */
  clusterEnv: Record<string, string>;
  outDir: string | undefined;
}

export const USAGE = `usage: npm run bench -- [options]
  --url URL            coordinator to load (127.0.0.1/localhost only). Default: http://127.0.0.1:8080
                       if it answers /healthz, else a private cluster started by the test harness
  --s3-url URL         that cluster's S3 endpoint, for mixed-s3 (default: http://127.0.0.1:9000);
                       keys from MINIS3_ACCESS_KEY/MINIS3_SECRET_KEY or ./data/credentials.json
  --phases LIST        any of ${PHASES.join(",")}
                       (default: all). mixed: fresh keys (--mix); overwrite: a fixed key set (--key-set,
                       seeded first, not measured), so most uploads replace a live object
                       (--overwrite-mix); large: --large objects one at a time; large-parallel:
                       --large-in-flight at once; huge: one --huge object (memory). A -s3 phase is
                       the same load through the S3 port, every request SigV4-signed (aws4);
                       large-s3-sdk: large one at a time, uploaded as the SDKs send a stream
                       (aws-chunked in 64 KiB chunks, a CRC32 trailer); large-s3-multipart: the
                       same uploaded as aws cli sends a big file (multipart, 8 MiB parts, 10 at once);
                       large-overwrite: large through the facade, every pass over the same key (the
                       replaced versions' trash moves are in its CPU); large-burst: --large-burst
                       objects uploaded at once through the facade, more than a coordinator streams
                       at a time (MINIS3_LARGE_UPLOADS): throughput and memory under a burst
  --compare            also start s3rver (the devDependency; a child process, its own temp dir) and
                       run the mixed, overwrite and large loads through its S3 port in the same
                       sitting (same client, keys, payloads, concurrency): ratios MiniS3/s3rver
  --concurrency N      requests in flight in the mixed phase (default 32)
  --size SIZE          object size in the mixed phase (default 4KiB)
  --duration TIME      length of the mixed phase (default 20s, at most 10m)
  --warmup TIME        unmeasured mixed load before it (default 5s; 0 for none)
  --max-ops N          stop the mixed phase after N operations (default 2000000)
  --mix U:R:D          upload:retrieve:delete weights of the mixed phases (default 40:50:10)
  --overwrite-mix U:R:D   those of the overwrite phases (default 45:45:10)
  --key-set N          keys of the overwrite phases (default 1000; at least --concurrency)
  --large SIZE         single-object throughput test size (default 64MiB)
  --large-passes N     objects of that size timed up and back; the median is reported (default 5)
  --large-warmup N     unmeasured passes before them in each large phase, s3rver's too (default 2;
                       a fresh cluster's first passes ran ~25 % slower); huge has none
  --large-first-warmup N  those of each system's first large phase instead (default 8: a fresh
                       cluster's 64 MiB uploads took ~8 to settle, s3rver's ~3)
  --large-in-flight N  objects moved at once in the large-parallel phases (default 2)
  --large-burst N      objects of --large size uploaded at once in the large-burst phase (default 16;
                       two passes after one unmeasured)
  --huge SIZE          memory test object size (default 1GiB)
  --tier-objects N     objects taken hot → cold → hot in the tiers phase (default 200); that
                       phase always runs on a private cluster with a 3 s hot TTL
  --tier-size SIZE     their size (default 64KiB)
  --transition-objects N  4 KiB objects uploaded, demoted, deleted, moved to the trash and purged
                       in the transitions phase (default 100000), on a private cluster
  --transition-ttl TIME   its hot TTL (default 20s; the trash TTL is three times that)
  --lifecycle-objects N   4 KiB objects seeded straight into a private cluster (blobs to the
                       storage nodes, rows as an upload commits them) for the lifecycle phase
                       (default 100000): it measures demotion, trash moves and purges alone
  --lifecycle-window TIME their due times (and deletes) spread over this long (default 60s;
                       0s: all at once, the most a transition can move)
  --lifecycle-ttl TIME    the hot TTL there (default 4s)
  --cpu-prof DIR       the processes of a cluster the bench starts (its own, the lifecycle phase's)
                       run with node --cpu-prof into DIR
  --storage-nodes N    storage nodes of a cluster the bench starts itself (default 3)
  --cluster-env LIST   MINIS3_* settings for the cluster the bench starts itself, comma-separated
                       (e.g. MINIS3_SCRUB_RATE=0 to compare with the scrubber off)
  --out DIR            where the JSON results go (default bench/results)
Every flag can also be given as BENCH_<FLAG> (e.g. BENCH_CONCURRENCY=64).`;

const FLAGS = {
  url: { type: "string" },
  "s3-url": { type: "string" },
  phases: { type: "string" },
  concurrency: { type: "string" },
  size: { type: "string" },
  duration: { type: "string" },
  warmup: { type: "string" },
  "max-ops": { type: "string" },
  mix: { type: "string" },
  "overwrite-mix": { type: "string" },
  "key-set": { type: "string" },
  large: { type: "string" },
  "large-passes": { type: "string" },
  "large-warmup": { type: "string" },
  "large-first-warmup": { type: "string" },
  "large-in-flight": { type: "string" },
  "large-burst": { type: "string" },
  compare: { type: "boolean" },
  huge: { type: "string" },
  "storage-nodes": { type: "string" },
  "cluster-env": { type: "string" },
  "tier-objects": { type: "string" },
  "tier-size": { type: "string" },
  "transition-objects": { type: "string" },
  "transition-ttl": { type: "string" },
  "lifecycle-objects": { type: "string" },
  "lifecycle-window": { type: "string" },
  "lifecycle-ttl": { type: "string" },
  "cpu-prof": { type: "string" },
  out: { type: "string" },
  help: { type: "boolean" },
} as const;

export class UsageError extends MiniS3Error {
  constructor(message: string) {
    super(ErrorCode.InvalidUsage, message);
  }
}

export function int(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${text}")`);
  return n;
}

export function wrap<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

export function parseMix(text: string, flag = "mix"): Mix {
  const parts = text.split(":").map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0) || parts[0] <= 0) {
    throw new UsageError(`--${flag} must be upload:retrieve:delete weights with uploads above 0 (got "${text}")`);
  }
  return { upload: parts[0], retrieve: parts[1], delete: parts[2] };
}

export function parseClusterEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(MINIS3_[A-Z0-9_]+)=(.*)$/.exec(item);
    if (!m) throw new UsageError(`--cluster-env takes MINIS3_NAME=value items (got "${item}")`);
    env[m[1]] = m[2];
  }
  return env;
}

/** An http:// URL given to --<flag>. */
export function parseHttpUrl(flag: string, text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`--${flag} "${text}" is not a URL`);
  }
  if (u.protocol !== "http:") throw new UsageError(`--${flag} must be http:// (got ${u.protocol})`);
  return u;
}

/** Only this machine is ever a target (the bench is a load generator). */
export function checkLoopbackUrl(text: string): string {
  const u = parseHttpUrl("url", text);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!(host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host))) {
    throw new UsageError(`--url must point at this machine (127.x.x.x, localhost or [::1]); got ${u.hostname}`);
  }
  return u.origin;
}

export function parseBenchArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchArgs | "help" {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) return "help";
  const get = (name: keyof typeof FLAGS, fallback: string): string => {
    const v = values[name];
    if (typeof v === "string") return v;
    return env[`BENCH_${name.toUpperCase().replace(/-/g, "_")}`] ?? fallback;
  };
  const url = get("url", "");
  const phases = get("phases", PHASES.join(","))
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of phases)
    if (!(PHASES as readonly string[]).includes(p)) throw new UsageError(`--phases: unknown phase "${p}" (use ${PHASES.join(", ")})`);
  const concurrency = int("concurrency", get("concurrency", "32"), 1, 1024);
  const keySet = int("key-set", get("key-set", "1000"), 1, 10_000_000);
  // Each operation in flight holds one key: with fewer keys than that an upload could find none idle.
  if (keySet < concurrency && phases.some((p) => p.startsWith("overwrite")))
    throw new UsageError(`--key-set (${keySet}) must be at least --concurrency (${concurrency})`);
  const durationMs = wrap("duration", () => parseDuration(get("duration", "20s")));
  if (durationMs < 1000 || durationMs > 600_000) throw new UsageError("--duration must be from 1s to 10m");
  const size = wrap("size", () => parseSize(get("size", "4KiB")));
  const largeBytes = wrap("large", () => parseSize(get("large", "64MiB")));
  const hugeBytes = wrap("huge", () => parseSize(get("huge", "1GiB")));
  if (size < 1 || size > 64 * 1024 ** 2) throw new UsageError("--size must be from 1 byte to 64MiB");
  if (largeBytes < 1 || hugeBytes < 1 || largeBytes > 8 * 1024 ** 3 || hugeBytes > 8 * 1024 ** 3)
    throw new UsageError("--large and --huge must be from 1 byte to 8GiB");
  const outDir = get("out", "");
  return {
    url: url ? checkLoopbackUrl(url) : undefined,
    s3Url: checkLoopbackUrl(get("s3-url", "http://127.0.0.1:9000")),
    concurrency,
    size,
    durationMs,
    warmupMs: wrap("warmup", () => parseDuration(get("warmup", "5s"))),
    maxOps: int("max-ops", get("max-ops", "2000000"), 1, 50_000_000),
    mix: parseMix(get("mix", "40:50:10")),
    overwriteMix: parseMix(get("overwrite-mix", "45:45:10"), "overwrite-mix"),
    keySet,
    largeBytes,
    largePasses: int("large-passes", get("large-passes", "5"), 1, 20),
    largeWarmup: int("large-warmup", get("large-warmup", "2"), 0, 20),
    largeFirstWarmup: int("large-first-warmup", get("large-first-warmup", "8"), 0, 20),
    largeInFlight: int("large-in-flight", get("large-in-flight", "2"), 1, 16),
    largeBurst: int("large-burst", get("large-burst", "16"), 2, 64),
    hugeBytes,
    phases: [...new Set(phases)] as Phase[],
    compare: values.compare === true || ["1", "true", "yes"].includes(env.BENCH_COMPARE ?? ""),
    tierObjects: int("tier-objects", get("tier-objects", "200"), 1, 100_000),
    tierSize: wrap("tier-size", () => parseSize(get("tier-size", "64KiB"))),
    transitionObjects: int("transition-objects", get("transition-objects", "100000"), 1, 1_000_000),
    transitionTtlMs: wrap("transition-ttl", () => parseDuration(get("transition-ttl", "20s"))),
    lifecycleObjects: int("lifecycle-objects", get("lifecycle-objects", "100000"), 1, 1_000_000),
    lifecycleWindowMs: wrap("lifecycle-window", () => parseDuration(get("lifecycle-window", "60s"))),
    lifecycleTtlMs: wrap("lifecycle-ttl", () => parseDuration(get("lifecycle-ttl", "4s"))),
    cpuProfDir: get("cpu-prof", "") || undefined,
    storageNodes: int("storage-nodes", get("storage-nodes", "3"), 1, 32),
    clusterEnv: parseClusterEnv(get("cluster-env", "")),
    outDir: outDir || undefined,
  };
}
