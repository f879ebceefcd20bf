import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { repoRoot } from "../deploy/launcher/paths";
import { parseBenchArgs, UsageError, USAGE, type BenchArgs } from "./args";
import { MiniS3Client } from "./client";
import { S3BenchClient } from "./s3-client";
import { runLarge } from "./large";
import { runLifecycle } from "./lifecycle";
import { deleteKeys, runMixed } from "./mixed";
import { cpuBetween, cpuSnapshot, findInfraProcesses, findServiceProcesses, type WatchedProcess } from "./procs";
import { report } from "./report";
import type { BenchResults, CpuFigures } from "./result-types";
import { round } from "./stats";
import { runTiers } from "./tiers";
import { runTransitions } from "./transitions";
import { resolveTarget, waitQuiet, type Target } from "./target";

// `npm run bench`: load a MiniS3 cluster on this machine and write what it did to bench/results/.

const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

async function measured<T>(procs: () => WatchedProcess[], run: () => Promise<T>): Promise<{ value: T; cpu: CpuFigures }> {
  const watched = () => [...procs(), ...findInfraProcesses(), { name: "bench", pid: process.pid }];
  const list = watched();
  const before = cpuSnapshot(list);
  const value = await run();
  const seconds = cpuBetween(before, cpuSnapshot(list), list);
  return { value, cpu: { seconds, totalSeconds: round(Object.values(seconds).reduce((a, b) => a + b, 0)) } };
}

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
      largeBytes: args.largeBytes,
      largePasses: args.largePasses,
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
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log("interrupted: cleaning up (again to quit at once)");
    void (target?.cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  target = await resolveTarget(args.url, args.storageNodes, log, args.clusterEnv, args.s3Url);
  results.target = { url: target.url, ownCluster: target.cluster !== undefined };
  const runId = randomBytes(4).toString("hex");
  const client = new MiniS3Client(target.url, args.concurrency);
  const bigClient = new MiniS3Client(target.url, 1, 600_000);
  try {
    if (args.phases.includes("mixed")) {
      if (args.warmupMs > 0) {
        log(`warm-up: ${args.warmupMs / 1000} s of the mixed load, not measured`);
        const warm = await runMixed(client, { ...args, durationMs: args.warmupMs, keyPrefix: `bench-${runId}-warmup` });
        await deleteKeys(client, warm.liveKeys, args.concurrency, 60_000);
        await waitQuiet(target.url, 60_000, log);
      }
      log(
        `mixed: ${args.concurrency} in flight, ${args.size} B objects, ${args.durationMs / 1000} s, mix ${args.mix.upload}:${args.mix.retrieve}:${args.mix.delete}`,
      );
      const { value, cpu } = await measured(target.processes, () => runMixed(client, { ...args, keyPrefix: `bench-${runId}` }));
      const cpuMicrosPerOp = value.total.attempts ? round((cpu.totalSeconds * 1e6) / value.total.attempts, 1) : null;
      results.mixed = { ...value, cpu, cpuMicrosPerOp };
      if (!target.cluster && value.liveKeys.length) {
        log(`deleting the ${value.liveKeys.length} keys the mixed phase left`);
        results.mixed.leftoverKeysDeleted = await deleteKeys(client, value.liveKeys, args.concurrency, 60_000);
      }
      results.mixed.liveKeys = []; // thousands of names are no figure
    }
    if (args.phases.includes("mixed-s3")) {
      if (!target.s3) throw new Error("mixed-s3: no key pair for the S3 endpoint (set MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY)");
      await waitQuiet(target.url, 120_000, log);
      const s3 = new S3BenchClient(target.s3.url, `bench-${runId}`, target.s3.keys, args.concurrency);
      try {
        const made = await s3.createBucket();
        if (!made.ok) throw new Error(`mixed-s3: CreateBucket at ${target.s3.url} failed: ${made.reason}`);
        if (args.warmupMs > 0) {
          const warm = await runMixed(s3, { ...args, durationMs: args.warmupMs, keyPrefix: `warmup` });
          await deleteKeys(s3, warm.liveKeys, args.concurrency, 60_000);
          await waitQuiet(target.url, 60_000, log);
        }
        log(`mixed-s3: the same load through ${target.s3.url}, every request signed (SigV4)`);
        const { value, cpu } = await measured(target.processes, () => runMixed(s3, { ...args, keyPrefix: "k" }));
        const cpuMicrosPerOp = value.total.attempts ? round((cpu.totalSeconds * 1e6) / value.total.attempts, 1) : null;
        results.mixedS3 = { ...value, cpu, cpuMicrosPerOp };
        if (!target.cluster && value.liveKeys.length) {
          results.mixedS3.leftoverKeysDeleted = await deleteKeys(s3, value.liveKeys, args.concurrency, 60_000);
        }
        results.mixedS3.liveKeys = [];
      } finally {
        await s3.close();
      }
    }
    for (const phase of ["large", "huge"] as const) {
      if (!args.phases.includes(phase)) continue;
      await waitQuiet(target.url, 120_000, log);
      const bytes = phase === "large" ? args.largeBytes : args.hugeBytes;
      log(`${phase}: one ${round(bytes / 2 ** 20, 1)} MiB object up and back`);
      const withBench = () => [...target!.processes(), { name: "bench", pid: process.pid }];
      const { value, cpu } = await measured(target.processes, () =>
        runLarge(bigClient, `bench-${runId}/${phase}`, bytes, withBench, phase === "large" ? args.largePasses : 1),
      );
      results[phase] = { ...value, cpu };
    }
    if (args.phases.includes("tiers")) {
      await waitQuiet(target.url, 120_000, log);
      // Its own cluster (a 2 s hot TTL): processes are looked up by name while it runs.
      const { value, cpu } = await measured(findServiceProcesses, () => runTiers(args.tierObjects, args.tierSize, log));
      results.tiers = { ...value, cpu };
    }
    if (args.phases.includes("transitions")) {
      await waitQuiet(target.url, 120_000, log);
      // Its own cluster too (short TTLs, 4 KiB objects): looked up by name while it runs.
      const { value, cpu } = await measured(findServiceProcesses, () =>
        runTransitions(args.transitionObjects, 4096, args.transitionTtlMs, args.storageNodes, log),
      );
      results.transitions = { ...value, cpu };
    }
    if (args.phases.includes("lifecycle")) {
      await waitQuiet(target.url, 120_000, log);
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
    await Promise.allSettled([client.close(), bigClient.close()]);
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
