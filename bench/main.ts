import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { repoRoot } from "../deploy/launcher/paths";
import { needsTarget, parseBenchArgs, UsageError, USAGE, type BenchArgs, type Phase } from "./args";
import { MiniS3Client, type ObjectClient } from "./client";
import { computeRatios } from "./compare";
import { runLifecycle } from "./lifecycle";
import { LargeWarmups, largePhase, measured, mixedPhase, type BenchSystem } from "./phases";
import { findServiceProcesses } from "./procs";
import { report } from "./report";
import type { BenchResults, LargeRow, MixedRow } from "./result-types";
import { S3BenchClient, type Framing, type S3Keys } from "./s3-client";
import { AWS_CLI_MULTIPART } from "./s3-multipart";
import { startS3rver, type PeerServer } from "./s3rver";
import { runTiers } from "./tiers";
import { runTransitions } from "./transitions";
import { defaultInfra, resolveTarget, waitQuiet, type Target } from "./target";

// `npm run bench`: load a MiniS3 cluster on this machine (and with --compare s3rver beside it) and
// write what it did to bench/results/.

const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

/** The small-object workloads: each through the facade and through S3, then on the peer. */
const MIXED: { keys: "fresh" | "overwrite"; facade: [Phase, MixedRow]; s3: [Phase, MixedRow]; peer: "mixed" | "overwrite" }[] = [
  { keys: "fresh", facade: ["mixed", "mixed"], s3: ["mixed-s3", "mixedS3"], peer: "mixed" },
  { keys: "overwrite", facade: ["overwrite", "overwrite"], s3: ["overwrite-s3", "overwriteS3"], peer: "overwrite" },
];

/**
 * The large-object workloads likewise: one object at a time (and through S3 also as the SDKs upload
 * a stream: aws-chunked, and as the stock tools upload a big file: multipart), then
 * --large-in-flight at once. s3rver runs its rows as plain uploads, and the multipart one as such.
 * large-overwrite uploads over one key pass after pass (each upload replaces the last, whose bytes
 * then move to the trash); s3rver's row does the same through its S3 port.
 */
const LARGE: {
  parallel: boolean;
  facade: [Phase, LargeRow];
  s3: [Phase, LargeRow];
  sdk?: [Phase, LargeRow];
  multipart?: [Phase, LargeRow];
  overwrite?: [Phase, LargeRow];
  peer: "large" | "largeParallel";
  peerMultipart?: "largeMultipart";
  peerOverwrite?: "largeOverwrite";
}[] = [
  {
    parallel: false,
    facade: ["large", "large"],
    s3: ["large-s3", "largeS3"],
    sdk: ["large-s3-sdk", "largeS3Sdk"],
    multipart: ["large-s3-multipart", "largeS3Multipart"],
    overwrite: ["large-overwrite", "largeOverwrite"],
    peer: "large",
    peerMultipart: "largeMultipart",
    peerOverwrite: "largeOverwrite",
  },
  { parallel: true, facade: ["large-parallel", "largeParallel"], s3: ["large-s3-parallel", "largeS3Parallel"], peer: "largeParallel" },
];

/** Measured passes of the large-burst row: each is --large-burst objects (1 GiB at the defaults). */
const BURST_PASSES = 2;

const withInfra = () => [...findServiceProcesses(), ...defaultInfra()];

async function run(args: BenchArgs): Promise<number> {
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    target: { url: "", ownCluster: false },
    settings: {
      concurrency: args.concurrency,
      size: args.size,
      durationMs: args.durationMs,
      warmupMs: args.warmupMs,
      maxOps: args.maxOps,
      mix: args.mix,
      overwriteMix: args.overwriteMix,
      keySet: args.keySet,
      largeBytes: args.largeBytes,
      largePasses: args.largePasses,
      largeWarmup: args.largeWarmup,
      largeFirstWarmup: args.largeFirstWarmup,
      largeInFlight: args.largeInFlight,
      largeBurst: args.largeBurst,
      compare: args.compare,
      hugeBytes: args.hugeBytes,
      phases: args.phases,
      s3Url: args.s3Url,
      storageNodes: args.storageNodes,
      tierObjects: args.tierObjects,
      tierSize: args.tierSize,
      transitionObjects: args.transitionObjects,
      transitionTtlMs: args.transitionTtlMs,
      lifecycleObjects: args.lifecycleObjects,
      lifecycleWindowMs: args.lifecycleWindowMs,
      lifecycleTtlMs: args.lifecycleTtlMs,
      clusterEnv: args.clusterEnv,
    },
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", memoryBytes: totalmem(), node: process.version },
    errors: [],
  };
  let target: Target | undefined;
  let peer: PeerServer | undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log("interrupted: cleaning up (again to quit at once)");
    void Promise.allSettled([target?.cluster?.stop(), peer?.stop()]).finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  // Only the phases that load the target get one: tiers, transitions and lifecycle start their own.
  target = needsTarget(args.phases)
    ? await resolveTarget(args.url, args.storageNodes, log, args.clusterEnv, args.s3Url, args.cpuProfDir)
    : { url: "", processes: () => [], infra: () => [] };
  results.target = { url: target.url, ownCluster: target.cluster !== undefined };
  /** Waits for the target's queues to empty, when there is a target. */
  const quiet = () => (target!.url ? waitQuiet(target!.url, 120_000, log) : Promise.resolve());
  const runId = randomBytes(4).toString("hex");
  const minis3: BenchSystem = {
    server: () => [...target!.processes(), ...target!.infra()],
    services: () => target!.processes(),
    drain: quiet,
    cleanUp: !target.cluster,
  };
  const has = (p: Phase) => args.phases.includes(p);
  const closers: (() => Promise<void>)[] = [];
  /** A client made once, on first use, and closed at the end. */
  const lazy = <T extends { close(): Promise<void> }>(make: () => Promise<T>): (() => Promise<T>) => {
    let made: Promise<T> | undefined;
    return () => {
      if (!made) {
        made = make();
        closers.push(() => made!.then((c) => c.close()));
      }
      return made;
    };
  };
  /** An S3 client with its bucket made, for an endpoint looked up on first use. */
  const s3Client = (
    connections: number,
    timeoutMs: number,
    endpoint: () => { url: string; keys: S3Keys },
    bucket: string,
    largeGets = false,
    framing: Framing = "as-sent",
  ) =>
    lazy(async () => {
      const { url, keys } = endpoint();
      const c = new S3BenchClient(url, bucket, keys, connections, timeoutMs, largeGets, framing);
      const made = await c.createBucket();
      if (!made.ok) throw new Error(`CreateBucket ${bucket} at ${url} failed: ${made.reason}`);
      return c;
    });
  const ourS3 = () => {
    if (!target!.s3) throw new Error("S3 phases: no key pair for the S3 endpoint (set MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY)");
    return target!.s3;
  };
  const facadeSmall = lazy(async () => new MiniS3Client(target!.url, args.concurrency));
  // The large phases' GETs are read as socket-get.ts reads them (their own connections), at half
  // undici's CPU per MiB on the bench's side of the two cores; s3rver's the same way.
  const facadeLarge = lazy(async () => new MiniS3Client(target!.url, args.largeInFlight, 600_000, true));
  const facadeBurst = lazy(async () => new MiniS3Client(target!.url, args.largeBurst, 600_000, true));
  const s3Small = s3Client(args.concurrency, 60_000, ourS3, `bench-${runId}`);
  const s3Large = s3Client(args.largeInFlight, 600_000, ourS3, `bench-${runId}`, true);
  const s3Sdk = s3Client(1, 600_000, ourS3, `bench-${runId}`, true, "aws-chunked");
  // A connection per part in flight, as aws cli keeps (max_pool_connections follows the concurrency).
  const s3Multipart = s3Client(AWS_CLI_MULTIPART.inFlight, 600_000, ourS3, `bench-${runId}`, true, "multipart");

  try {
    if (args.compare) {
      peer = await startS3rver();
      log(`--compare: ${peer.name} at ${peer.url} (pid ${peer.pid})`);
      results.compare = { peer: peer.name, url: peer.url, ratios: {} };
    }
    const peerSystem: BenchSystem | undefined = peer && {
      server: () => [{ name: "s3rver", pid: peer!.pid }],
      services: () => [{ name: "s3rver", pid: peer!.pid }],
      drain: async () => {},
      cleanUp: false,
    };
    const peerSmall = peer && s3Client(args.concurrency, 60_000, () => peer!, "bench");
    const peerLarge = peer && s3Client(args.largeInFlight, 600_000, () => peer!, "bench", true);
    const peerMultipart = peer && s3Client(AWS_CLI_MULTIPART.inFlight, 600_000, () => peer!, "bench", true, "multipart");

    for (const w of MIXED) {
      const opts = (name: string, keyPrefix: string) => ({ name, keys: w.keys, keyPrefix });
      if (has(w.facade[0])) {
        await quiet();
        results[w.facade[1]] = await mixedPhase(await facadeSmall(), minis3, args, opts(w.facade[0], `bench-${runId}-${w.keys}`), log);
      }
      if (has(w.s3[0])) {
        await quiet();
        results[w.s3[1]] = await mixedPhase(await s3Small(), minis3, args, opts(w.s3[0], w.keys), log);
      }
      if (peerSystem && peerSmall && (has(w.facade[0]) || has(w.s3[0]))) {
        results.compare![w.peer] = await mixedPhase(await peerSmall(), peerSystem, args, opts(`${peer!.name} ${w.peer}`, w.keys), log);
      }
    }
    const warmups = new LargeWarmups(args.largeFirstWarmup, args.largeWarmup);
    for (const w of LARGE) {
      // One large row on `system`: its warm-up is the longer one if it is that system's first.
      const row = (client: ObjectClient, system: BenchSystem, key: string, overwrite = false) =>
        largePhase(client, system, {
          key,
          overwrite,
          bytes: args.largeBytes,
          passes: args.largePasses,
          inFlight: w.parallel ? args.largeInFlight : 1,
          warmupPasses: warmups.passesFor(system),
        });
      const what = `${w.parallel ? `${args.largeInFlight} objects at once` : "one object at a time"} of ${args.largeBytes / 2 ** 20} MiB, up and back`;
      if (has(w.facade[0])) {
        log(`${w.facade[0]}: ${what}`);
        results[w.facade[1]] = await row(await facadeLarge(), minis3, `bench-${runId}/${w.facade[0]}`);
      }
      if (has(w.s3[0])) {
        log(`${w.s3[0]}: ${what}`);
        results[w.s3[1]] = await row(await s3Large(), minis3, w.s3[0]);
      }
      if (w.sdk && has(w.sdk[0])) {
        log(`${w.sdk[0]}: ${what}, uploaded aws-chunked as the SDKs send a stream`);
        results[w.sdk[1]] = await row(await s3Sdk(), minis3, w.sdk[0]);
      }
      const inParts = `${AWS_CLI_MULTIPART.partBytes / 2 ** 20} MiB parts, ${AWS_CLI_MULTIPART.inFlight} at once (aws cli's defaults)`;
      if (w.multipart && has(w.multipart[0])) {
        log(`${w.multipart[0]}: ${what}, uploaded multipart as the stock tools send a big file: ${inParts}`);
        results[w.multipart[1]] = await row(await s3Multipart(), minis3, w.multipart[0]);
      }
      if (peerSystem && peerLarge && (has(w.facade[0]) || has(w.s3[0]) || (w.sdk && has(w.sdk[0])))) {
        log(`${peer!.name} ${w.peer}: ${what}`);
        results.compare![w.peer] = await row(await peerLarge(), peerSystem, w.peer);
      }
      // The peer's multipart row only beside ours: the same calls, not its plain PUT, are the ratio's other side.
      if (peerSystem && peerMultipart && w.multipart && w.peerMultipart && has(w.multipart[0])) {
        log(`${peer!.name} ${w.peerMultipart}: ${what}, uploaded multipart: ${inParts}`);
        results.compare![w.peerMultipart] = await row(await peerMultipart(), peerSystem, w.peerMultipart);
      }
      if (w.overwrite && has(w.overwrite[0])) {
        log(`${w.overwrite[0]}: ${what}, every pass over the same key`);
        results[w.overwrite[1]] = await row(await facadeLarge(), minis3, `bench-${runId}/${w.overwrite[0]}`, true);
        if (peerSystem && peerLarge && w.peerOverwrite) {
          log(`${peer!.name} ${w.peerOverwrite}: ${what}, every pass over the same key`);
          results.compare![w.peerOverwrite] = await row(await peerLarge(), peerSystem, w.peerOverwrite, true);
        }
      }
    }
    if (has("huge")) {
      log(`huge: one ${args.hugeBytes / 2 ** 20} MiB object up and back`);
      results.huge = await largePhase(await facadeLarge(), minis3, {
        key: `bench-${runId}/huge`,
        bytes: args.hugeBytes,
        passes: 1,
        inFlight: 1,
        warmupPasses: 0, // a memory test: its one pass is the point, after the large rows' warm-up
      });
    }
    if (has("large-burst")) {
      // More uploads at once than a coordinator streams (MINIS3_LARGE_UPLOADS): the rest wait their
      // turn. One unmeasured pass (a burst is already many objects), two measured. After huge: glibc
      // keeps what a burst grew a process to, which the 1 GiB pass's memory figure is not about
      // (before it, that pass peaked at 245.5 MiB against 216-223 in the sittings without the row).
      const burst = { bytes: args.largeBytes, passes: BURST_PASSES, inFlight: args.largeBurst, warmupPasses: 1 };
      log(`large-burst: ${args.largeBurst} objects of ${args.largeBytes / 2 ** 20} MiB at once, up and back`);
      results.largeBurst = await largePhase(await facadeBurst(), minis3, { ...burst, key: `bench-${runId}/large-burst` });
      if (peerSystem && peer) {
        log(`${peer.name} largeBurst: the same`);
        const peerBurst = s3Client(args.largeBurst, 600_000, () => peer!, "bench", true);
        results.compare!.largeBurst = await largePhase(await peerBurst(), peerSystem, { ...burst, key: "large-burst" });
      }
    }
    if (results.compare) computeRatios(results, results.compare);
    if (args.phases.includes("tiers")) {
      await quiet();
      // Its own cluster (a 2 s hot TTL): processes are looked up by name while it runs.
      const { value, cpu } = await measured(withInfra, () => runTiers(args.tierObjects, args.tierSize, log));
      results.tiers = { ...value, cpu };
    }
    if (args.phases.includes("transitions")) {
      await quiet();
      // Its own cluster too (short TTLs, 4 KiB objects): looked up by name while it runs.
      const { value, cpu } = await measured(withInfra, () =>
        runTransitions(args.transitionObjects, 4096, args.transitionTtlMs, args.storageNodes, log),
      );
      results.transitions = { ...value, cpu };
    }
    if (args.phases.includes("lifecycle")) {
      await quiet();
      // Its own cluster, seeded (lifecycle.ts); it measures CPU per transition itself.
      results.lifecycle = await runLifecycle(
        {
          objects: args.lifecycleObjects,
          objectBytes: 4096,
          windowMs: args.lifecycleWindowMs,
          hotTtlMs: args.lifecycleTtlMs,
          storageNodes: args.storageNodes,
          clusterEnv: args.clusterEnv,
          cpuProfDir: args.cpuProfDir,
        },
        log,
      );
    }
  } catch (e) {
    results.errors.push((e as Error).stack ?? String(e));
    log(`failed: ${(e as Error).message}`);
  } finally {
    await Promise.allSettled(closers.map((c) => c()));
    await peer?.stop().catch((e) => results.errors.push(`s3rver stop: ${(e as Error).message}`));
    if (target.cluster) {
      log("stopping the private cluster");
      await target.cluster.stop().catch((e) => results.errors.push(`cluster stop: ${(e as Error).message}`));
    }
  }
  results.finishedAt = new Date().toISOString();

  const outDir = resolve(args.outDir ?? join(repoRoot(), "bench", "results"));
  await mkdir(outDir, { recursive: true });
  // ISO time, with ':' made '-' so the name is valid on every file system
  const file = join(outDir, `${results.startedAt.replace(/:/g, "-")}.json`);
  await writeFile(file, JSON.stringify(results, null, 2) + "\n");
  process.stdout.write(report(results));
  process.stdout.write(`results: ${file}\n`);
  return results.errors.length ? 1 : 0;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (args === "help") {
    process.stdout.write(USAGE + "\n");
    return;
  }
  process.exit(await run(args));
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
