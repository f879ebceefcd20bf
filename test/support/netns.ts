import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { promisify } from "node:util";
import type { ProcessSpec } from "../../deploy/launcher/plan";

// Storage nodes as separate hosts: each in a network namespace of the test's own making, joined to
// the root namespace by a veth pair with a /30 of its own (10.X.Y.4i+1 on the root side, .4i+2 in
// the namespace). The coordinator, MariaDB and Redis stay in the root namespace; MariaDB listens on
// 127.0.0.1 only, which a namespace cannot reach, so a TCP relay in the test process listens on each
// pair's root-side address and forwards to it. Faults are made on the link: the namespace's end set
// down, packets to and from a port dropped (nftables, in the namespace: its rules go with it), or the
// link slowed (tc tbf: this kernel has no netem).

const run = promisify(execFile);

/** Every namespace this module makes is named `ms3n-<pid>-<hex>-<i>`: the pid finds stale ones. */
const NS_PREFIX = "ms3n-";

function commandWorks(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why network namespaces cannot be made here (then the suites skip), or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== "linux") return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "network namespaces need root (ip netns add)";
  if (!commandWorks("ip", ["-V"])) return "iproute2's `ip` is not installed";
  const probe = `${NS_PREFIX}${process.pid}-probe`;
  if (!commandWorks("ip", ["netns", "add", probe])) return "`ip netns add` fails here (no CAP_SYS_ADMIN?)";
  commandWorks("ip", ["netns", "del", probe]);
  return undefined;
}

/** Why packets cannot be dropped here (nftables missing), or undefined. */
export function nftUnavailable(): string | undefined {
  return commandWorks("nft", ["--version"]) ? undefined : "nftables is not installed (apt-get install nftables)";
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Namespaces left by a run that died before its cleanup: their processes killed, then removed. */
export async function removeStaleNamespaces(): Promise<string[]> {
  const { stdout } = await run("ip", ["netns", "list"]);
  const stale = stdout
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith(NS_PREFIX) && !pidAlive(Number(n.split("-")[1])));
  for (const ns of stale) await deleteNamespace(ns);
  return stale;
}

async function deleteNamespace(ns: string): Promise<void> {
  const { stdout } = await run("ip", ["netns", "pids", ns]).catch(() => ({ stdout: "" }));
  for (const pid of stdout.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  // Deleting the namespace destroys its end of the veth pair, which destroys the pair.
  await run("ip", ["netns", "del", ns]).catch(() => undefined);
}

/** A /24 of 10.0.0.0/8 that no route here uses yet. */
async function freeSubnet(): Promise<string> {
  const { stdout } = await run("ip", ["-4", "route", "show", "table", "all"]);
  for (;;) {
    const [a, b] = randomBytes(2);
    const net = `10.${200 + (a % 50)}.${b}`;
    if (!stdout.includes(`${net}.`)) return net;
  }
}

export interface Host {
  /** Network namespace name. */
  ns: string;
  /** The node's address, in its namespace. */
  address: string;
  /** The root namespace's end of the link (where the relay listens). */
  rootAddress: string;
  /** Interface names: the root namespace's end, and the namespace's end. */
  rootIf: string;
  nsIf: string;
  relay: Relay;
}

/** A TCP relay from the root end of a link to a server in the root namespace (MariaDB). */
class Relay {
  private readonly sockets = new Set<Socket>();
  private server?: Server;
  port = 0;

  constructor(
    private readonly listenHost: string,
    private readonly target: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        // One side failing (a link cut) ends the other: MariaDB sees the client leave.
        s.on("error", () => (s === client ? upstream : client).destroy());
        s.on("close", () => (s === client ? upstream : client).destroy());
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, this.listenHost, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/**
 * `count` hosts (namespaces with a link each to the root namespace), for one test run. `stop()`
 * removes them all; call it in afterAll after the processes in them are stopped.
 */
export class NetnsHosts {
  readonly hosts: Host[] = [];

  private constructor(private readonly mysql: { host: string; port: number }) {}

  static async create(count: number, mysqlUrl: string): Promise<NetnsHosts> {
    const removed = await removeStaleNamespaces();
    if (removed.length) process.stderr.write(`netns: removed stale namespaces ${removed.join(", ")}\n`);
    const u = new URL(mysqlUrl);
    const made = new NetnsHosts({ host: u.hostname, port: Number(u.port || 3306) });
    try {
      const hex = randomBytes(3).toString("hex");
      const net = await freeSubnet();
      for (let i = 0; i < count; i++) await made.add(hex, net, i);
    } catch (e) {
      await made.stop();
      throw e;
    }
    return made;
  }

  private async add(hex: string, net: string, i: number): Promise<void> {
    const ns = `${NS_PREFIX}${process.pid}-${hex}-${i}`;
    const rootIf = `m3${hex}-${i}r`;
    const nsIf = `m3${hex}-${i}n`;
    const rootAddress = `${net}.${4 * i + 1}`;
    const address = `${net}.${4 * i + 2}`;
    await run("ip", ["netns", "add", ns]);
    const host: Host = { ns, address, rootAddress, rootIf, nsIf, relay: new Relay(rootAddress, this.mysql) };
    this.hosts.push(host);
    for (const args of [
      ["link", "add", rootIf, "type", "veth", "peer", "name", nsIf, "netns", ns],
      ["addr", "add", `${rootAddress}/30`, "dev", rootIf],
      ["link", "set", rootIf, "up"],
      ["-n", ns, "addr", "add", `${address}/30`, "dev", nsIf],
      ["-n", ns, "link", "set", nsIf, "up"],
      ["-n", ns, "link", "set", "lo", "up"],
    ])
      await run("ip", args);
    await host.relay.start();
  }

  /**
   * Runs a storage node's spec on host `i`: under `ip netns exec`, listening on and publishing the
   * namespace's address, reaching MariaDB through the relay. For ClusterOptions.prepare.
   */
  place(spec: ProcessSpec, i: number): void {
    const h = this.hosts[i];
    const db = new URL(spec.env.MINIS3_MYSQL_URL);
    db.hostname = h.rootAddress;
    db.port = String(h.relay.port);
    const address = `${h.address}:${spec.port}`;
    spec.wrapper = ["ip", "netns", "exec", h.ns];
    spec.env = { ...spec.env, MINIS3_HOST: h.address, MINIS3_NODE_ADDRESS: address, MINIS3_MYSQL_URL: db.toString() };
    spec.address = address;
  }

  /** Cuts host `i`'s link (its end down): packets to it are lost, nothing is refused. */
  async linkDown(i: number): Promise<void> {
    await run("ip", ["-n", this.hosts[i].ns, "link", "set", this.hosts[i].nsIf, "down"]);
  }

  async linkUp(i: number): Promise<void> {
    await run("ip", ["-n", this.hosts[i].ns, "link", "set", this.hosts[i].nsIf, "up"]);
  }

  /** Drops every packet to and from TCP `port` on host `i` (the rest, MariaDB's, still passes). */
  async dropPort(i: number, port: number): Promise<void> {
    const nft = (...args: string[]) => run("ip", ["netns", "exec", this.hosts[i].ns, "nft", ...args]);
    await nft("add", "table", "inet", "faults");
    await nft("add", "chain", "inet", "faults", "in", "{ type filter hook input priority 0; policy accept; }");
    await nft("add", "chain", "inet", "faults", "out", "{ type filter hook output priority 0; policy accept; }");
    await nft("add", "rule", "inet", "faults", "in", "tcp", "dport", String(port), "drop");
    await nft("add", "rule", "inet", "faults", "out", "tcp", "sport", String(port), "drop");
  }

  async stopDropping(i: number): Promise<void> {
    await run("ip", ["netns", "exec", this.hosts[i].ns, "nft", "delete", "table", "inet", "faults"]);
  }

  /** Limits host `i`'s link to `rate` (tc syntax, e.g. "1mbit") in both directions. */
  async slowLink(i: number, rate: string): Promise<void> {
    const h = this.hosts[i];
    const tbf = ["qdisc", "replace", "dev"];
    const shape = ["root", "tbf", "rate", rate, "burst", "16kb", "latency", "200ms"];
    await run("tc", [...tbf, h.rootIf, ...shape]);
    await run("ip", ["netns", "exec", h.ns, "tc", ...tbf, h.nsIf, ...shape]);
  }

  async fastLink(i: number): Promise<void> {
    const h = this.hosts[i];
    await run("tc", ["qdisc", "del", "dev", h.rootIf, "root"]);
    await run("ip", ["netns", "exec", h.ns, "tc", "qdisc", "del", "dev", h.nsIf, "root"]);
  }

  /** Removes every namespace (and so every link) and relay; best effort, each step. */
  async stop(): Promise<void> {
    for (const h of this.hosts) {
      await h.relay.stop().catch(() => undefined);
      await deleteNamespace(h.ns);
    }
  }
}
