import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { ClusterInspector } from "./cluster-inspector";
import { stopAndReport, withCoordinatorLogs } from "./crash-report";
import { waitFor } from "./wait";

// The cluster every lifecycle test file runs on: three storage nodes at two replicas, the reconciler
// every 500 ms (so transitions land within about that of due), and an inspector that looks behind
// the API. The files differ only in their TTLs.

export interface LifecycleCluster {
  /** These three are set once the file's beforeAll has run. */
  cluster: TestCluster;
  nodes: ClusterInspector;
  /** The facade's URL. */
  base: string;
  /** Rethrows a failure with the coordinator's last log lines: what one needs when a move stalls. */
  withLogs<T>(what: Promise<T>): Promise<T>;
  /** Waits until the nodes holding the bytes (asked directly) are exactly `expected`: old copies cleaned up. */
  waitHolders(versionId: string, expected: string[], timeoutMs: number, everyMs?: number): Promise<string[]>;
}

/**
 * Starts the cluster before the file's tests and stops it after them (reporting any process that
 * crashed meanwhile). Call it inside the file's describe.
 */
export function withLifecycleCluster(ttl: { hot: string; trash: string }): LifecycleCluster {
  const lc: LifecycleCluster = {
    cluster: undefined as unknown as TestCluster,
    nodes: undefined as unknown as ClusterInspector,
    base: "",
    withLogs: (what) => withCoordinatorLogs(lc.cluster, what),
    waitHolders: (versionId, expected, timeoutMs, everyMs) =>
      waitFor(
        `copies of ${versionId} on exactly ${expected.join(", ")}`,
        async () => {
          const held = await lc.nodes.holders(versionId);
          return JSON.stringify(held.sort()) === JSON.stringify([...expected].sort()) ? held : undefined;
        },
        timeoutMs,
        everyMs,
      ),
  };

  beforeAll(async () => {
    lc.cluster = await startCluster({
      storageNodes: 3,
      env: { MINIS3_HOT_TTL: ttl.hot, MINIS3_TRASH_TTL: ttl.trash, MINIS3_RECONCILE_INTERVAL: "500ms", MINIS3_REPLICAS: "2" },
    });
    lc.base = lc.cluster.httpUrl;
    lc.nodes = new ClusterInspector(lc.cluster);
  }, 90_000);

  afterAll(async () => {
    await stopAndReport(lc.cluster, lc.nodes);
  });

  return lc;
}
