import { performance } from "node:perf_hooks";
import { SETTINGS } from "../../services/common/config";
import { startCluster, type ClusterOptions, type TestCluster } from "../../deploy/launcher/cluster";
import { sha256 } from "./bodies";
import { ClusterInspector } from "./cluster-inspector";
import { retrieve, upload } from "./http";
import { NetnsHosts } from "./netns";
import { waitFor } from "./wait";

// What the network-fault suites share: a cluster whose storage nodes run as separate hosts (one
// network namespace each, test/support/netns.ts), and a ledger of every acknowledged upload, with
// each call's answer and time, that reads everything back at the end.

export interface NetworkCluster {
  cluster: TestCluster;
  hosts: NetnsHosts;
  inspector: ClusterInspector;
  /** Host index of a storage node ("storage-2" is host 1). */
  hostOf(node: string): number;
  stop(): Promise<void>;
}

/** Starts a cluster with every storage node in a namespace of its own; cleans up if it fails. */
export async function startNetworkCluster(opts: ClusterOptions & { storageNodes: number }): Promise<NetworkCluster> {
  const mysqlUrl = opts.mysqlUrl ?? process.env.MINIS3_MYSQL_URL ?? SETTINGS.mysqlUrl.default;
  const hosts = await NetnsHosts.create(opts.storageNodes, mysqlUrl);
  const hostOf = (node: string) => Number(node.replace("storage-", "")) - 1;
  let cluster: TestCluster;
  try {
    cluster = await startCluster({
      ...opts,
      prepare: (spec) => {
        if (spec.kind === "storage") hosts.place(spec, hostOf(spec.name));
      },
    });
  } catch (e) {
    await hosts.stop();
    throw e;
  }
  const inspector = new ClusterInspector(cluster);
  return {
    cluster,
    hosts,
    inspector,
    hostOf,
    stop: async () => {
      await inspector.close().catch(() => undefined);
      await cluster.stop().catch(() => undefined);
      await hosts.stop();
    },
  };
}

export interface CallResult {
  op: "put" | "get";
  key: string;
  /** HTTP status, or "hung" when the test's limit cut it, or "error" (connection failed). */
  status: number | "hung" | "error";
  ms: number;
  /** For a get: whether the body was the acknowledged one. */
  exact?: boolean;
}

/**
 * Every upload and download of a test, each under a limit: an answer later than `limitMs` counts as
 * a hang (the product's own deadlines are 10 s without progress, so a healthy fall-over answers well
 * within it). Remembers what was acknowledged (201) so that it can all be read back at the end.
 */
export class Ledger {
  readonly acked = new Map<string, Buffer>();
  readonly results: CallResult[] = [];

  constructor(
    private readonly base: string,
    private readonly limitMs: number,
  ) {}

  async put(key: string, body: Buffer): Promise<CallResult> {
    const r = await this.timed("put", key, async (signal) => {
      const res = await upload(this.base, key, body, signal);
      if (res.status === 201) this.acked.set(key, body);
      return { status: res.status };
    });
    return r;
  }

  /** Reads an acknowledged key back and checks its bytes. */
  async get(key: string): Promise<CallResult> {
    const want = this.acked.get(key);
    if (!want) throw new Error(`${key} was never acknowledged`);
    return this.timed("get", key, async (signal) => {
      const res = await retrieve(this.base, key, signal);
      return { status: res.status, exact: res.status === 200 && sha256(res.body) === sha256(want) };
    });
  }

  /** Calls that failed, hung or read wrong bytes, since result `from`. */
  failures(from = 0): string[] {
    return this.results
      .slice(from)
      .filter((r) => (r.op === "put" ? r.status !== 201 : r.status !== 200 || !r.exact))
      .map(
        (r) => `${r.op} ${r.key}: ${r.status}${r.exact === false && r.status === 200 ? " (wrong bytes)" : ""} after ${Math.round(r.ms)} ms`,
      );
  }

  /** A one-line account of results `from`.. for the log. */
  summary(from = 0): string {
    const rs = this.results.slice(from);
    const slowest = rs.length ? Math.round(Math.max(...rs.map((r) => r.ms))) : 0;
    return `${rs.filter((r) => r.op === "put").length} puts, ${rs.filter((r) => r.op === "get").length} gets, ${this.failures(from).length} failed, slowest ${slowest} ms`;
  }

  /** Reads every acknowledged object back (one at a time); the keys that did not come back exact. */
  async lost(): Promise<string[]> {
    const out: string[] = [];
    for (const key of this.acked.keys()) {
      const r = await this.get(key);
      if (r.status !== 200 || !r.exact) out.push(`${key}: ${r.status}${r.status === 200 ? " (wrong bytes)" : ""}`);
    }
    return out;
  }

  private async timed(
    op: CallResult["op"],
    key: string,
    call: (signal: AbortSignal) => Promise<Omit<CallResult, "op" | "key" | "ms">>,
  ): Promise<CallResult> {
    const t0 = performance.now();
    let r: Omit<CallResult, "op" | "key" | "ms">;
    try {
      r = await call(AbortSignal.timeout(this.limitMs));
    } catch (e) {
      r = { status: (e as Error).name === "TimeoutError" ? "hung" : "error" };
    }
    const result = { op, key, ms: performance.now() - t0, ...r };
    this.results.push(result);
    return result;
  }
}

/** Runs `work` over `items`, `concurrency` at a time. */
export async function runAll<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/**
 * Waits until the coordinator writes to `node` again: uploads a new small object every poll until
 * one lists a copy on it.
 */
export async function waitUntilUsed(net: NetworkCluster, ledger: Ledger, node: string, tag: string, timeoutMs = 40_000): Promise<void> {
  let n = 0;
  await waitFor(
    `${node} to take copies again`,
    async () => {
      const key = `${tag}/back-${n++}`;
      const r = await ledger.put(key, Buffer.from(`${key} is back`));
      if (r.status !== 201) return false;
      const id = await net.inspector.currentVersionId(key);
      const v = id ? await net.inspector.version(id) : null;
      return v?.replicas.includes(node) ?? false;
    },
    timeoutMs,
    500,
  );
}
