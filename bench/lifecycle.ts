import { mkdir } from "node:fs/promises";
import type { RowDataPacket } from "mysql2/promise";
import { resolve } from "node:path";
import { startCluster, type TestCluster } from "../deploy/launcher/cluster";
import { MiniS3Client } from "./client";
import { Seeder, shapeDiffs, shapeOf, type SeededObject } from "./lifecycle-seed";
import { smallBody } from "./payload";
import { cpuBetween, cpuSnapshot, findInfraProcesses, localPort, withChildren, type WatchedProcess } from "./procs";
import { round } from "./stats";
import { formatStall, StallWatch, type StallReport, type StallSecond } from "./stall-watch";
import { figures, moved, status, tier, transitionsStatus, until, type TransitionFigures } from "./transitions";

// The lifecycle alone (`--phases lifecycle`): objects seeded straight into a private cluster
// (lifecycle-seed.ts), so the upload generator bounds nothing, come due at a set rate, and each
// transition is measured as it happens: demotion (due times spread evenly over the window),
// trash moves (deletes at the same rate, as the API makes them), purges (due a trash TTL after
// their deletes). Figures per transition: moves a second from the first coming due to the last
// moved, the coordinator's own lateness (commit minus due: /status `transitions`), and the CPU
// seconds of every process while it ran.

export interface LifecycleSettings {
  objects: number;
  objectBytes: number;
  /** Due times (and deletes) spread over this long; 0: all at once (what a transition can do at most). */
  windowMs: number;
  hotTtlMs: number;
  storageNodes: number;
  clusterEnv: Record<string, string>;
  /** Run every process with `node --cpu-prof` into this directory. */
  cpuProfDir?: string;
}

export interface LifecycleKindFigures extends TransitionFigures {
  /** Versions that came due (the seeded ones and the one real upload). */
  due: number;
  /** Attempts that ended without a move, by the job's answer (a row changed since read…). */
  notMoved: Record<string, number>;
  cpu: Record<string, number>;
}

export interface LifecycleResult {
  objects: number;
  objectBytes: number;
  windowMs: number;
  /** The rate versions came due at (objects over the window). */
  duePerSec: number | null;
  hotTtlMs: number;
  trashTtlMs: number;
  seed: { seconds: number; perSec: number; spreadMs: number; leadMs: number };
  /** CPU seconds of every process over a few seconds with everything seeded and nothing due. */
  idle: { seconds: number; cpu: Record<string, number> };
  /** What a seeded object differs in from a real upload (none: the measure is of what uploads make). */
  seededVsUpload: string[];
  demote: LifecycleKindFigures;
  trash: LifecycleKindFigures;
  purge: LifecycleKindFigures;
  left: { hot: number; cold: number; trash: number };
  /**
   * Per transition, the seconds before its latest commit: the coordinator's pages, moves, batch
   * times, event-loop delay and GC, with InnoDB's checkpoint age and flushing and every process's
   * CPU (stall-watch.ts). What found the lateness tails of issue 12 item 7.
   */
  stalls: StallReport[];
  /** Every second of the run, joined as in `stalls`. */
  timeline: StallSecond[];
  /** Processes that restarted during the run (their counters and timeline started over). */
  restarts: { name: string; restarts: number; lastExit: unknown }[];
}

/** Seconds the cluster is watched with nothing due, polled as during the phases. */
const IDLE_SECONDS = 5;

export async function runLifecycle(s: LifecycleSettings, log: (m: string) => void): Promise<LifecycleResult> {
  // Purges come due a trash TTL after their deletes: past the whole window of trash moves, so the
  // two are measured apart.
  const trashTtlMs = s.windowMs + 15_000;
  const replicas = 2;
  if (s.cpuProfDir) await mkdir(resolve(s.cpuProfDir), { recursive: true });
  const cluster: TestCluster = await startCluster({
    storageNodes: s.storageNodes,
    env: {
      MINIS3_HOT_TTL: `${s.hotTtlMs}ms`,
      MINIS3_TRASH_TTL: `${trashTtlMs}ms`,
      MINIS3_RECONCILE_INTERVAL: "30s",
      MINIS3_LOG_LEVEL: "warn",
      MINIS3_REPLICAS: String(replicas),
      ...s.clusterEnv,
    },
    prepare: s.cpuProfDir
      ? (spec) => (spec.nodeArgs = [...(spec.nodeArgs ?? []), "--cpu-prof", `--cpu-prof-dir=${resolve(s.cpuProfDir!)}`])
      : undefined,
  });
  const url = cluster.httpUrl;
  const seeder = new Seeder(cluster, replicas);
  const client = new MiniS3Client(url, 4);
  // This cluster's MariaDB and Redis, not every one on the machine (other sessions run theirs).
  const infra = findInfraProcesses({ mysql: localPort(cluster.mysqlUrl, 3306), redis: localPort(cluster.redisUrl, 6379) });
  const procs = (): WatchedProcess[] => [
    ...withChildren(cluster.processes.filter((p) => p.pid !== undefined).map((p) => ({ name: p.name, pid: p.pid! }))),
    ...infra,
    { name: "bench", pid: process.pid },
  ];
  // performance.now() at a catalogue time, for the figures' windows
  const perfAt = async (catalogueMs: number) => performance.now() + catalogueMs - (await seeder.clock.now());
  let watch: StallWatch | undefined;
  try {
    // One real upload: what a seeded object must look like.
    const realKey = "lifecycle/real-upload";
    const up = await client.upload(realKey, smallBody(s.objectBytes, -1), s.objectBytes);
    if (!up.ok) throw new Error(`the reference upload failed: ${up.reason}`);
    const [[ref]] = await seeder.pool.query<RowDataPacket[]>("SELECT version_id FROM objects WHERE object_key = ?", [realKey]);
    const real: SeededObject = { key: realKey, versionId: ref.version_id };
    const realShape = await shapeOf(seeder, real);

    log(`lifecycle: seeding ${s.objects} objects of ${s.objectBytes} B`);
    const t0 = performance.now();
    const seeded = await seeder.seed(s.objects, s.objectBytes, "lifecycle/", log);
    const seedSeconds = (performance.now() - t0) / 1000;
    const seededVsUpload = shapeDiffs(realShape, await shapeOf(seeder, seeded[0]));
    if (seededVsUpload.length) log(`lifecycle: a seeded object differs from an upload: ${seededVsUpload.join("; ")}`);

    // What the cluster burns with nothing due (heartbeats, scrubber, rehome walks, the reconciler,
    // this bench's /status polls), to read the phases' CPU against.
    const idleList = procs();
    const idleBefore = cpuSnapshot(idleList);
    const idleStarted = performance.now();
    for (let i = 0; i < IDLE_SECONDS * 2; i++) {
      await transitionsStatus(url);
      await new Promise((r) => setTimeout(r, 500));
    }
    const idle = {
      seconds: round((performance.now() - idleStarted) / 1000),
      cpu: cpuBetween(idleBefore, cpuSnapshot(idleList), idleList),
    };

    // Time for the one UPDATE that spreads the due times (~100k rows in a few seconds) before the first is due.
    const leadMs = 2000 + Math.ceil(s.objects / 20);
    const t1 = performance.now();
    const firstDue = await seeder.makeDue(s.objects, leadMs, s.windowMs, s.hotTtlMs);
    const spreadMs = round(performance.now() - t1);
    const n = s.objects + 1;
    const duePerSec = s.windowMs > 0 ? round((s.objects * 1000) / s.windowMs, 1) : null;
    log(`lifecycle: ${s.objects} due over ${s.windowMs / 1000} s (hot TTL ${s.hotTtlMs} ms; spread in ${spreadMs} ms)`);

    const stallWatch = (watch = new StallWatch(cluster.mysqlUrl, procs));
    const watchFrom = Date.now();
    stallWatch.start();
    const phase = async (kind: string, firstDueCat: number, run: () => Promise<void>, wait: number): Promise<LifecycleKindFigures> => {
      const list = procs();
      const before = cpuSnapshot(list);
      const firstDuePerf = await perfAt(firstDueCat);
      await run();
      const last = await until(url, `every ${kind}`, (st) => (moved(st, kind)?.moved ?? 0) >= n, wait, log);
      const cpu = cpuBetween(before, cpuSnapshot(list), list);
      const st = await transitionsStatus(url);
      const f = figures(st, kind, firstDuePerf, last);
      log(`lifecycle: ${kind}: ${f.moved} moved, ${f.perSec}/s, lateness p50 ${f.latenessMs.p50} ms, p99 ${f.latenessMs.p99} ms`);
      return { ...f, due: n, notMoved: moved(st, kind)?.notMoved ?? {}, cpu };
    };
    const limit = s.windowMs + 180_000;
    const demote = await phase("demote", firstDue, async () => undefined, limit + s.hotTtlMs + leadMs);

    let deletesFrom = 0;
    const perSecond = s.windowMs > 0 ? (n * 1000) / s.windowMs : Number.MAX_SAFE_INTEGER;
    const trash = await phase(
      "trash",
      await seeder.clock.now(),
      async () => {
        deletesFrom = await seeder.deletePaced([real, ...seeded], perSecond, trashTtlMs, (ms) => stallWatch.record("bench.delete", ms));
      },
      limit,
    );
    const purge = await phase("purge", deletesFrom + trashTtlMs, async () => undefined, limit + trashTtlMs);
    const kinds = ["demote", "trash", "purge"];
    const { stalls, timeline } = await stallWatch.report(url, kinds, watchFrom);
    for (const r of stalls) for (const line of formatStall(r, r.kind)) log(line);
    // A process that restarted mid-run loses its counters and its timeline (the figures then start
    // over): say so, with its last lines.
    const restarts = cluster.processes
      .filter((p) => p.restarts > 0)
      .map((p) => ({ name: p.name, restarts: p.restarts, lastExit: p.lastExit }));
    for (const r of restarts) {
      log(`lifecycle: ${r.name} restarted ${r.restarts} time(s), last exit ${JSON.stringify(r.lastExit)}; its last lines:`);
      for (const line of cluster.logs(r.name, 30)) log(`  ${line}`);
    }
    const final = await status(url);
    return {
      objects: s.objects,
      objectBytes: s.objectBytes,
      windowMs: s.windowMs,
      duePerSec,
      hotTtlMs: s.hotTtlMs,
      trashTtlMs,
      seed: { seconds: round(seedSeconds), perSec: round(s.objects / seedSeconds, 1), spreadMs, leadMs },
      seededVsUpload,
      idle,
      demote,
      trash,
      purge,
      left: { hot: tier(final, "hot"), cold: tier(final, "cold"), trash: tier(final, "trash") },
      stalls,
      timeline,
      restarts,
    };
  } finally {
    await watch?.stop();
    await client.pool.close();
    await seeder.close();
    await cluster.stop();
  }
}
