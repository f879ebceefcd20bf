import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { SETTINGS } from "../../services/common/config";
import { deleteQueueKeys, dropDatabase } from "../../deploy/launcher/cluster-cleanup";
import { waitForHealthy } from "../../deploy/launcher/health";
import { repoRoot } from "../../deploy/launcher/paths";
import { findFreePortBlock, isPortFree } from "../../deploy/launcher/ports";
import { listenerOf } from "../../bench/procs";
import { signedFetch } from "../support/http";
import { rememberKeyPair } from "../../deploy/launcher/client-credentials";
import { readKeyPair } from "../../deploy/launcher/credentials";

// `npm start` as an operator runs it: the real launcher from dist/, stopped with SIGTERM to its process
// group (what Ctrl-C or a service manager does) while clients are uploading over keep-alive
// connections, or killed outright. Every process must be gone afterwards and every port free.

/** The launcher's own grace period (deploy/launcher/supervisor.ts): a clean stop needs no SIGKILL. */
const GRACE_MS = 10_000;
const ROUNDS = 20;
/**
 * coordinator HTTP and gRPC, storage-1 and -2, backup-1, delete-1, coordinator S3, then a metrics port
 * for each of the five services: all in the free block, none at a default a running `npm start` holds.
 */
const PORTS = 12;
const SERVICES = ["coordinator", "storage-1", "storage-2", "backup-1", "delete-1"];
/** `npm start`'s default group (MINIS3_COORDINATORS=2): the "coordinator" process forks two workers. */
const COORDINATOR_WORKERS = 2;

interface Launch {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe("stopping the launcher", () => {
  const hex = randomBytes(5).toString("hex");
  const prefix = `minis3_t_${hex}`;
  const mysqlUrl = withDatabase(process.env.MINIS3_MYSQL_URL ?? SETTINGS.mysqlUrl.default, prefix);
  const redisUrl = process.env.MINIS3_REDIS_URL ?? SETTINGS.redisUrl.default;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "minis3-stops-"));
  });
  afterAll(async () => {
    for (const pid of ourProcesses(prefix)) process.kill(pid, "SIGKILL");
    await Promise.allSettled([dropDatabase(mysqlUrl), deleteQueueKeys(redisUrl, prefix), rm(dataDir, { recursive: true, force: true })]);
  });

  async function launch(): Promise<{ launch: Launch; base: number; httpUrl: string }> {
    const base = await findFreePortBlock(PORTS);
    const env: Record<string, string> = {
      ...(Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !k.startsWith("MINIS3_"))) as Record<
        string,
        string
      >),
      MINIS3_LOG_LEVEL: "info", // each service's "stopped" is how a clean stop shows
      MINIS3_HEARTBEAT_INTERVAL: "250ms",
      MINIS3_NODE_DOWN_AFTER: "2s",
      MINIS3_RECONCILE_INTERVAL: "2s",
      MINIS3_HOST: "127.0.0.1",
      MINIS3_HTTP_PORT: String(base),
      MINIS3_GRPC_PORT: String(base + 1),
      MINIS3_NODE_BASE_PORT: String(base + 2),
      MINIS3_S3_PORT: String(base + 6),
      MINIS3_METRICS_BASE_PORT: String(base + 7),
      MINIS3_STORAGE_NODES: "2",
      MINIS3_REPLICAS: "2",
      MINIS3_COORDINATORS: String(COORDINATOR_WORKERS),
      MINIS3_DATA_DIR: dataDir,
      MINIS3_MYSQL_URL: mysqlUrl,
      MINIS3_REDIS_URL: redisUrl,
      MINIS3_QUEUE_PREFIX: prefix,
    };
    // detached: its own process group, like `npm start` in a terminal
    const proc = spawn(process.execPath, [join(repoRoot(__dirname), "dist/deploy/launcher/main.js")], {
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    for (const s of [proc.stdout!, proc.stderr!]) createInterface({ input: s, crlfDelay: Infinity }).on("line", (l) => lines.push(l));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.on("close", (code, signal) => resolve({ code, signal })),
    );
    const httpUrl = `http://127.0.0.1:${base}`;
    try {
      await waitForHealthy(httpUrl, { timeoutMs: 60_000, giveUp: () => (proc.exitCode !== null ? "the launcher exited" : undefined) });
    } catch (e) {
      process.kill(-proc.pid!, "SIGKILL");
      throw new Error(`${(e as Error).message}\n${lines.slice(-30).join("\n")}`);
    }
    // The launcher made a key pair in the data dir on its first start: the load signs with it.
    rememberKeyPair([httpUrl], readKeyPair(dataDir)!);
    return { launch: { proc, lines, exited }, base, httpUrl };
  }

  it(
    `stops every process within the grace period and frees every port, ${ROUNDS} times under load`,
    async () => {
      const problems: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const { launch: l, base, httpUrl } = await launch();
        const load = startLoad(httpUrl, round);
        await sleep(600 + ((round * 397) % 900)); // signal at a different moment of the load each round
        const signalled = Date.now();
        process.kill(-l.proc.pid!, "SIGTERM");
        // Clients finish what they are sending and then stay idle, keeping their connections open.
        const loadDone = load.stop();
        const exit = await Promise.race([l.exited, sleep(GRACE_MS + 5_000).then(() => undefined)]);
        const took = Date.now() - signalled;
        await loadDone;

        const issues: string[] = [];
        if (!exit) issues.push(`the launcher had not exited ${took} ms after SIGTERM`);
        else if (exit.code !== 0) issues.push(`the launcher exited with ${JSON.stringify(exit)}`);
        if (took >= GRACE_MS) issues.push(`stopping took ${took} ms, not within the ${GRACE_MS} ms grace period`);
        const forced = l.lines.filter((line) => /did not exit|shutdown took too long/.test(line));
        if (forced.length) issues.push(`forced: ${forced.join(" | ")}`);
        const stopped = SERVICES.filter((name) =>
          l.lines.some((line) => new RegExp(`^\\[${name} *\\] `).test(line) && line.includes('"msg":"stopped"')),
        );
        if (stopped.length !== SERVICES.length) issues.push(`only ${stopped.join(", ")} logged "stopped"`);
        const left = ourProcesses(prefix);
        if (left.length) {
          issues.push(`processes left: ${left.join(", ")}`);
          for (const pid of left) process.kill(pid, "SIGKILL");
        }
        const busy: string[] = [];
        for (let p = base; p < base + PORTS; p++) {
          if (await isPortFree(p)) continue;
          // Other test files start clusters on free blocks from the same range: once this cluster is
          // gone, one may bind a port of its block (seen once, npm test beside a running cluster).
          const holder = listenerOf(p);
          if (holder !== undefined && !hasMarker(holder, prefix)) continue;
          busy.push(holder === undefined ? String(p) : `${p} (pid ${holder})`);
        }
        if (busy.length) issues.push(`ports still taken: ${busy.join(", ")}`);
        if (load.requests() === 0) issues.push("the load made no request");
        if (issues.length) problems.push(`round ${round}: ${issues.join("; ")}\n  ${l.lines.filter(notable).slice(-12).join("\n  ")}`);
      }
      expect(problems).toEqual([]);
    },
    ROUNDS * 30_000,
  );

  it("leaves no process behind when the launcher is killed with SIGKILL", async () => {
    const { launch: l, base, httpUrl } = await launch();
    expect(ourProcesses(prefix).length).toBe(1 + SERVICES.length + COORDINATOR_WORKERS);
    const load = startLoad(httpUrl, 99);
    await sleep(500);
    l.proc.kill("SIGKILL");
    await l.exited;
    const killed = Date.now();
    // Each child runs its own shutdown, bounded by its own grace period (the same 10 s).
    let left = ourProcesses(prefix);
    while (left.length && Date.now() - killed < GRACE_MS + 3_000) {
      await sleep(100);
      left = ourProcesses(prefix);
    }
    const took = Date.now() - killed;
    await load.stop();
    const described = left.map(describeProcess);
    for (const pid of left) process.kill(pid, "SIGKILL");
    expect(described).toEqual([]);
    expect(took).toBeLessThan(GRACE_MS);
    for (let p = base; p < base + PORTS; p++) expect(await isPortFree(p)).toBe(true);
  }, 90_000);
});

/** Clients uploading (small and streamed) and reading back over keep-alive connections until stopped. */
function startLoad(httpUrl: string, round: number): { stop(): Promise<void>; requests(): number } {
  let running = true;
  let requests = 0;
  const small = randomBytes(4096);
  const large = randomBytes(4 * 1024 * 1024);
  const client = async (c: number) => {
    for (let i = 0; running; i++) {
      const key = `r${round}-c${c}-${i}`;
      try {
        const up = await signedFetch(`${httpUrl}/upload?key=${key}`, {
          method: "POST",
          body: i % 3 ? small : large,
          headers: { "content-type": "application/octet-stream" },
        });
        await up.arrayBuffer();
        requests++;
        if (up.status === 201 && running) await (await signedFetch(`${httpUrl}/retrieve?key=${key}`)).arrayBuffer();
      } catch {
        await sleep(50); // refused while stopping: keep trying until told to stop
      }
    }
  };
  const clients = Promise.all([0, 1, 2, 3, 4, 5].map(client));
  return {
    stop: async () => {
      running = false;
      await clients;
    },
    requests: () => requests,
  };
}

/** Every process (ours) started with this queue prefix: the launcher's children carry it in their env. */
function ourProcesses(prefix: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => hasMarker(pid, prefix));
}

function hasMarker(pid: number, prefix: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").includes(`MINIS3_QUEUE_PREFIX=${prefix}\0`);
  } catch {
    return false; // gone meanwhile, or not ours
  }
}

/** pid, script and kernel state, for a report of what was left running. */
function describeProcess(pid: number): string {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").join(" ");
    const state = /^State:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1];
    return `${pid} ${cmdline.replace(/.*\/dist\//, "")} (${state}, in ${readFileSync(`/proc/${pid}/wchan`, "latin1")}; threads ${threadsOf(pid)})`;
  } catch {
    return `${pid} (gone)`;
  }
}

/** Each thread's name and where the kernel has it waiting: which one a process left behind is stuck on. */
function threadsOf(pid: number): string {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .map((tid) => {
        const read = (f: string) => readFileSync(`/proc/${pid}/task/${tid}/${f}`, "latin1").trim();
        return `${tid} ${read("comm")} ${read("wchan")}`;
      })
      .join(", ");
  } catch {
    return "unreadable";
  }
}

const notable = (line: string) => !line.includes('"level":30') || /shutting down|stopped/.test(line);

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
