import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describeFailure, inheritedEnv, teardown, withDatabase } from "../../deploy/launcher/cluster";
import { newClusterSecret } from "../../deploy/launcher/credentials";
import { repoRoot } from "../../deploy/launcher/paths";
import type { ProcessSpec, ServiceKind } from "../../deploy/launcher/plan";
import { findFreePortBlock } from "../../deploy/launcher/ports";
import { Supervisor } from "../../deploy/launcher/supervisor";
import { SETTINGS } from "../../services/common/config";
import { stopChild } from "./stop-child";

// deploy/docker-compose.yml run without Docker: every service's own command and environment, as
// the file says, on this machine. What a container network gives for free is redone by hand: each
// service's ports become free local ports, and a service name in any setting becomes 127.0.0.1 and
// that service's local port. MariaDB and Redis are the shared servers (a fresh database and queue
// prefix); HAProxy is Debian's, on deploy/haproxy.cfg with the same rewriting; volumes are folders.
// Prometheus and Grafana are not run (no binaries here): deploy/check-compose.py checks their files.

export interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test?: string[] };
  ports?: string[];
  volumes?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Services this runner replaces by the shared servers, and those it does not run at all. */
export const SHARED = ["mariadb", "redis"];
export const NOT_RUN = ["prometheus", "grafana"];

const COMPOSE_FILE = "deploy/docker-compose.yml";
const HAPROXY_CFG = "deploy/haproxy.cfg";
const HAPROXY = "/usr/sbin/haproxy";

/** A YAML file of deploy/ as compose and Prometheus read it (PyYAML, like deploy/check-compose.py: merge keys included). */
export function readYaml<T>(path: string, root = repoRoot(__dirname)): T {
  const script = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)";
  return JSON.parse(execFileSync("python3", ["-c", script, join(root, path)], { encoding: "utf8" })) as T;
}

export const readComposeFile = (root = repoRoot(__dirname)): ComposeFile => readYaml<ComposeFile>(COMPOSE_FILE, root);

/** `host:port` of every Prometheus scrape target in deploy/prometheus.yml. */
export function scrapeTargets(root = repoRoot(__dirname)): string[] {
  const config = readYaml<{ scrape_configs?: { static_configs?: { targets?: string[] }[] }[] }>("deploy/prometheus.yml", root);
  return (config.scrape_configs ?? []).flatMap((job) => (job.static_configs ?? []).flatMap((c) => c.targets ?? []));
}

/** Compose's variable substitution: ${X}, ${X:-default}, ${X-default}, ${X:?error}, ${X?error}, $$. */
export function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (whole, name?: string, colon?: string, op?: string, arg?: string) => {
      if (whole === "$$") return "$";
      const v = vars[name!];
      const unset = v === undefined || (colon === ":" && v === "");
      if (!unset) return v;
      if (op === "?") throw new Error(`compose: ${name} is required: ${arg}`);
      return op === "-" ? arg! : "";
    },
  );
}

function interpolateDeep<T>(value: T, vars: Record<string, string | undefined>): T {
  if (typeof value === "string") return interpolate(value, vars) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => interpolateDeep(v, vars)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, vars)])) as T;
  }
  return value;
}

export interface LocalService {
  name: string;
  /** Container port → the local port it became. */
  ports: Map<number, number>;
  /** The environment it runs with here (after rewriting). */
  env: Record<string, string>;
  /** The health check command as it runs here, or undefined. */
  healthcheck?: string[];
}

export interface ComposeStack {
  /** Services run here, by name (MiniS3's and HAProxy). */
  services: Map<string, LocalService>;
  /** http://127.0.0.1:<local port of `service`'s container port>. */
  url(service: string, containerPort: number): string;
  /** The key pair the coordinators take (from the environment compose was given). */
  accessKey: string;
  secretKey: string;
  /** Runs a service's health check command once; resolves its exit code. */
  healthcheck(service: string): Promise<number>;
  /** Stops a service's process (as `docker compose stop <service>`). */
  stopService(service: string): Promise<void>;
  /** A string in the command line or environment of every process this stack started (and of no other). */
  marker: string;
  logs(service: string, lines?: number): string[];
  /** Every process's state and last lines, with the supervisor's notices (for a failed test's message). */
  describe(): string;
  /** Stops everything, drops the database, deletes the queue keys and the folders. */
  stop(): Promise<void>;
}

const KIND_OF_ENTRY: Record<string, ServiceKind> = {
  "dist/services/coordinator/main.js": "coordinator",
  "dist/services/storage-node/main.js": "storage",
  "dist/services/backup-node/main.js": "backup",
  "dist/services/delete-node/main.js": "delete",
};

/** The settings of the ports a MiniS3 service listens on (MINIS3_HTTP_PORT, MINIS3_NODE_PORT, ...). */
const LISTEN_PORT = /^MINIS3_[A-Z0-9_]*PORT$/;

function listenPorts(env: Record<string, string>): number[] {
  return Object.entries(env)
    .filter(([k]) => LISTEN_PORT.test(k))
    .map(([, v]) => Number(v));
}

/** Rewrites every `<service>:<port>` (and `127.0.0.1:<port>` / `127.0.0.1/<port>` of `self`) to its local address. */
function rewriter(ports: Map<string, Map<number, number>>) {
  const local = (service: string, port: number): number => {
    const p = ports.get(service)?.get(port);
    if (p === undefined) throw new Error(`compose: nothing in ${service} listens on ${port}`);
    return p;
  };
  const names = [...ports.keys()].map((n) => n.replace(/[.-]/g, "\\$&")).join("|");
  const other = new RegExp(`(?<![\\w.-])(${names}):(\\d+)\\b`, "g");
  return {
    local,
    address: (value: string): string => value.replace(other, (_m, name: string, port: string) => `127.0.0.1:${local(name, Number(port))}`),
    own: (self: string, value: string): string =>
      value.replace(/127\.0\.0\.1([:/])(\d+)\b/g, (_m, sep: string, port: string) => `127.0.0.1${sep}${local(self, Number(port))}`),
  };
}

export interface ComposeStackOptions {
  /** Echo every process's output (default: MINIS3_TEST_VERBOSE=1). */
  verbose?: boolean;
}

export async function startComposeStack(opts: ComposeStackOptions = {}): Promise<ComposeStack> {
  const root = repoRoot(__dirname);
  const hex = randomBytes(5).toString("hex");
  const marker = `minis3_compose_${hex}`;
  const credentials = {
    MINIS3_ACCESS_KEY: `compose${hex}`,
    MINIS3_SECRET_KEY: randomBytes(20).toString("base64url"),
    MINIS3_CLUSTER_SECRET: newClusterSecret(),
  };
  const compose = interpolateDeep(readComposeFile(root), credentials);
  const haproxyCfg = await readFile(join(root, HAPROXY_CFG), "utf8");

  const names = Object.keys(compose.services);
  const unknown = names.filter(
    (n) => !SHARED.includes(n) && !NOT_RUN.includes(n) && n !== "haproxy" && compose.services[n].command?.[0] !== "node",
  );
  if (unknown.length) throw new Error(`compose: no way to run ${unknown.join(", ")} here`);
  const minis3 = names.filter((n) => compose.services[n].command?.[0] === "node");

  // Every port a run service listens on inside its container gets a free local one.
  const wanted = new Map<string, number[]>();
  for (const n of minis3) wanted.set(n, listenPorts(compose.services[n].environment ?? {}));
  wanted.set(
    "haproxy",
    [...haproxyCfg.matchAll(/^\s*bind\s+:(\d+)\s*$/gm)].map((m) => Number(m[1])),
  );
  const count = [...wanted.values()].reduce((a, p) => a + p.length, 0);
  let next = await findFreePortBlock(count);
  const ports = new Map([...wanted].map(([n, list]) => [n, new Map(list.map((p) => [p, next++]))]));
  const rewrite = rewriter(ports);

  // Planned whole before anything is made, so a file this runner cannot follow leaves nothing behind.
  const workDir = join(tmpdir(), marker);
  const folders: string[] = [];
  const mysqlUrl = withDatabase(process.env.MINIS3_MYSQL_URL ?? SETTINGS.mysqlUrl.default, marker);
  const redisUrl = process.env.MINIS3_REDIS_URL ?? SETTINGS.redisUrl.default;
  const services = new Map<string, LocalService>();
  const specs: ProcessSpec[] = [];

  for (const name of minis3) {
    const svc = compose.services[name];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(svc.environment ?? {})) {
      env[k] = LISTEN_PORT.test(k) ? String(rewrite.local(name, Number(v))) : rewrite.address(String(v));
    }
    // The shared servers instead of the mariadb and redis services; loopback instead of all interfaces.
    if (!/@mariadb:\d+\//.test(env.MINIS3_MYSQL_URL ?? "")) throw new Error(`${name}: MINIS3_MYSQL_URL does not name the mariadb service`);
    if (!/\/\/redis:\d+/.test(env.MINIS3_REDIS_URL ?? "")) throw new Error(`${name}: MINIS3_REDIS_URL does not name the redis service`);
    env.MINIS3_MYSQL_URL = mysqlUrl;
    env.MINIS3_REDIS_URL = redisUrl;
    env.MINIS3_QUEUE_PREFIX = marker;
    env.MINIS3_HOST = "127.0.0.1";
    // A named volume is a folder of the run's own, wherever a setting names its mount point.
    for (const mount of svc.volumes ?? []) {
      const [volume, target] = mount.split(":");
      const dir = join(workDir, volume);
      folders.push(dir);
      for (const [k, v] of Object.entries(env)) if (v === target) env[k] = dir;
    }
    const leftover = Object.entries(env).find(([, v]) => names.some((n) => new RegExp(`(^|//|@)${n}:\\d|(//|@)${n}(/|$)`).test(v)));
    if (leftover) throw new Error(`${name}: ${leftover[0]}=${leftover[1]} still names a compose service`);

    const command = svc.command!;
    const entry = command[command.length - 1];
    const kind = KIND_OF_ENTRY[entry];
    if (!kind) throw new Error(`${name}: ${entry} is not a MiniS3 entry point`);
    const port = kind === "coordinator" ? Number(env.MINIS3_HTTP_PORT) : Number(env.MINIS3_NODE_PORT);
    specs.push({
      name,
      kind,
      script: resolve(root, entry),
      nodeArgs: command.slice(1, -1),
      env: { ...inheritedEnv(), ...env },
      port,
      address: `127.0.0.1:${kind === "coordinator" ? env.MINIS3_GRPC_PORT : port}`,
    });
    services.set(name, { name, ports: ports.get(name)!, env, healthcheck: localCheck(name, svc, rewrite) });
  }

  // HAProxy: binds on the local ports, servers at their local addresses (health check ports too).
  const cfg = haproxyCfg
    .replace(/^(\s*bind\s+):(\d+)\s*$/gm, (_m, lead: string, port: string) => `${lead}127.0.0.1:${rewrite.local("haproxy", Number(port))}`)
    .replace(/^(\s*server\s+\S+\s+)([\w.-]+):(\d+)(.*)$/gm, (_m, lead: string, host: string, port: string, rest: string) => {
      const checkPort = rest.replace(/\bport (\d+)/, (_p, p: string) => `port ${rewrite.local(host, Number(p))}`);
      return `${lead}127.0.0.1:${rewrite.local(host, Number(port))}${checkPort}`;
    });
  const cfgPath = join(workDir, "haproxy.cfg");
  for (const dir of folders) await mkdir(dir, { recursive: true });
  await writeFile(cfgPath, cfg);
  services.set("haproxy", {
    name: "haproxy",
    ports: ports.get("haproxy")!,
    env: {},
    healthcheck: localCheck("haproxy", compose.services.haproxy, rewrite),
  });

  const verbose = opts.verbose ?? process.env.MINIS3_TEST_VERBOSE === "1";
  const notices: string[] = [];
  const supervisor = new Supervisor(specs, {
    onLine: verbose ? (name, _s, line) => process.stderr.write(`[${name}] ${line}\n`) : () => undefined,
    onNotice: (m) => notices.push(m),
    graceMs: 10_000,
  });
  supervisor.startAll();
  const haproxyLines: string[] = [];
  const haproxy: ChildProcess = spawn(HAPROXY, ["-db", "-f", cfgPath], { stdio: ["ignore", "pipe", "pipe"] });
  for (const stream of [haproxy.stdout!, haproxy.stderr!]) {
    stream.on("data", (b: Buffer) => {
      haproxyLines.push(...b.toString().split("\n").filter(Boolean));
      haproxyLines.splice(0, Math.max(0, haproxyLines.length - 200));
      if (verbose) process.stderr.write(`[haproxy] ${b.toString()}`);
    });
  }

  let stopped: Promise<void> | undefined;
  const stack: ComposeStack = {
    services,
    marker,
    accessKey: credentials.MINIS3_ACCESS_KEY,
    secretKey: credentials.MINIS3_SECRET_KEY,
    url: (service, port) => `http://127.0.0.1:${rewrite.local(service, port)}`,
    healthcheck: (service) => runCheck(services.get(service)!, root),
    stopService: async (service) => {
      await supervisor.stop(service);
    },
    describe: () => {
      const state =
        haproxy.exitCode === null && haproxy.signalCode === null
          ? `running (pid ${haproxy.pid})`
          : `exited ${haproxy.exitCode ?? haproxy.signalCode}`;
      return `${describeFailure(supervisor, notices)}\n--- haproxy: ${state}\n${haproxyLines
        .slice(-15)
        .map((l) => `  ${l}`)
        .join("\n")}`;
    },
    logs: (service, lines = 30) => (service === "haproxy" ? haproxyLines.slice(-lines) : supervisor.tail(service, lines)),
    stop: () => {
      stopped ??= (async () => {
        await stopChild(haproxy);
        await teardown(supervisor, { mysqlUrl, redisUrl, prefix: marker, dataDir: workDir });
      })();
      return stopped;
    },
  };
  return stack;
}

/** A service's `healthcheck.test` as it runs here: CMD form only, ports rewritten to the local ones. */
function localCheck(name: string, svc: ComposeService, rewrite: ReturnType<typeof rewriter>): string[] | undefined {
  const test = svc.healthcheck?.test;
  if (!test) return undefined;
  if (test[0] !== "CMD") throw new Error(`${name}: health check is not in CMD form`);
  return test.slice(1).map((arg) => rewrite.own(name, arg));
}

function runCheck(service: LocalService, root: string): Promise<number> {
  const [command, ...args] = service.healthcheck ?? [];
  if (!command) return Promise.reject(new Error(`${service.name} has no health check`));
  // The image's working directory is the repository root (dist/ under it); `node` is this node.
  const bin = command === "node" ? process.execPath : command;
  return new Promise((resolvePromise) => {
    execFile(bin, args, { cwd: root, env: { ...inheritedEnv(), ...service.env }, timeout: 10_000 }, (err) => {
      resolvePromise(err ? (typeof err.code === "number" ? err.code : 1) : 0);
    });
  });
}

/** Pids of processes whose command line or environment holds `marker` (reads /proc). */
export async function processesMarked(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    for (const file of ["cmdline", "environ"]) {
      const text = await readFile(`/proc/${entry}/${file}`, "latin1").catch(() => "");
      if (text.includes(marker)) {
        found.push(Number(entry));
        break;
      }
    }
  }
  return found;
}
