import { seededBytes } from "../support/bodies";
import { Ledger, runAll, startNetworkCluster, waitUntilUsed, type NetworkCluster } from "../support/network-faults";
import { netnsUnavailable, nftUnavailable } from "../support/netns";

// Storage nodes as separate hosts (a network namespace each), and a node that is alive but
// unreachable: its link down, or the packets to and from its gRPC port dropped while calls are in
// flight on established connections. With R = 3 and W = 2 on three nodes every upload has the cut-off
// node among its targets: uploads and downloads must go on, no call may outlast the test's limit
// (a hang), and when the link is back the node takes copies again. Every acknowledged object must
// read back byte-exact at the end.

const MiB = 1024 * 1024;
/** An answer later than this is a hang: the node deadlines are 10 s without progress. */
const LIMIT_MS = 40_000;

const unavailable = netnsUnavailable();
if (unavailable) process.stderr.write(`faults-network: skipped: ${unavailable}\n`);
const noNft = nftUnavailable();
if (!unavailable && noNft) process.stderr.write(`faults-network: packet-drop case skipped: ${noNft}\n`);

(unavailable ? describe.skip : describe)("a storage node alive but unreachable over the network", () => {
  let net: NetworkCluster;
  let ledger: Ledger;

  beforeAll(async () => {
    const t0 = Date.now();
    // Two shared cores under other helpers' load have taken a minute to bring a cluster up.
    net = await startNetworkCluster({ storageNodes: 3, startTimeoutMs: 120_000, env: { MINIS3_REPLICAS: "3", MINIS3_WRITE_QUORUM: "2" } });
    ledger = new Ledger(net.cluster.httpUrl, LIMIT_MS);
    // Objects written while every link is up, read during the faults.
    await runAll([0, 1, 2, 3, 4, 5, 6, 7], 4, (i) => ledger.put(`warm/${i}`, seededBytes(`warm/${i}`, i % 2 ? 1 * MiB : 2000 + i)));
    expect(ledger.failures()).toEqual([]);
    process.stderr.write(`faults-network: cluster up and warm in ${Date.now() - t0} ms\n`);
  }, 180_000);
  afterAll(async () => {
    await net?.stop();
  }, 60_000);

  /**
   * Mixed load (uploads small and 1 MiB, downloads of the warm objects), 4 at a time; `fault` runs
   * once the first calls are in flight, so some of them meet it on established connections.
   */
  async function loadThrough(tag: string, fault: () => Promise<void>): Promise<number> {
    const from = ledger.results.length;
    const work = Array.from({ length: 24 }, (_, i) => i);
    let injected: Promise<void> | undefined;
    await runAll(work, 4, async (i) => {
      if (i === 4) injected = fault();
      if (i % 3 === 2) return ledger.get(`warm/${i % 8}`);
      const key = `${tag}/${i}`;
      return ledger.put(key, seededBytes(key, i % 4 === 0 ? 1 * MiB : 1000 + i));
    });
    await injected;
    process.stderr.write(`faults-network ${tag}: ${ledger.summary(from)}\n`);
    return from;
  }

  test("its link down: uploads and downloads go on, none hangs; back up, it takes copies again", async () => {
    const node = "storage-2";
    const from = await loadThrough("linkdown", () => net.hosts.linkDown(net.hostOf(node)));
    expect(ledger.failures(from)).toEqual([]);
    await net.hosts.linkUp(net.hostOf(node));
    await waitUntilUsed(net, ledger, node, "linkdown");
  }, 120_000);

  (noNft ? test.skip : test)(
    "its packets dropped mid-call: uploads and downloads go on, none hangs; then it takes copies again",
    async () => {
      const node = "storage-3";
      const port = net.cluster.specs.find((s) => s.name === node)!.port;
      const from = await loadThrough("dropped", () => net.hosts.dropPort(net.hostOf(node), port));
      expect(ledger.failures(from)).toEqual([]);
      await net.hosts.stopDropping(net.hostOf(node));
      await waitUntilUsed(net, ledger, node, "dropped");
    },
    120_000,
  );

  test("its link slowed to 1 mbit: large uploads and downloads through it complete, none hangs", async () => {
    const node = "storage-1";
    // A 1 MiB object whose first replica is the slow node, so that its download streams through the
    // slow link (reads take the catalogue's order among live nodes); placement is by key, so the
    // same key every run.
    let through: string | undefined;
    for (let k = 0; !through; k++) {
      const key = `slowread/${k}`;
      expect((await ledger.put(key, seededBytes(key, 1 * MiB))).status).toBe(201);
      const v = await net.inspector.version((await net.inspector.currentVersionId(key))!);
      if (v?.replicas[0] === node) through = key;
    }
    await net.hosts.slowLink(net.hostOf(node), "1mbit");
    const from = ledger.results.length;
    // Every upload has the slow node among its targets (R = 3): the quorum comes from the others.
    const uploads = [2 * MiB, 3000, 2 * MiB, 256 * 1024];
    await Promise.all([ledger.get(through), runAll([0, 1, 2, 3], 2, (i) => ledger.put(`slow/${i}`, seededBytes(`slow/${i}`, uploads[i])))]);
    const read = ledger.results.find((r, i) => i >= from && r.key === through)!;
    process.stderr.write(`faults-network slow: ${ledger.summary(from)}; 1 MiB through the slow link in ${Math.round(read.ms)} ms\n`);
    expect(ledger.failures(from)).toEqual([]);
    await net.hosts.fastLink(net.hostOf(node));
  }, 120_000);

  test("every acknowledged object reads back byte-exact", async () => {
    expect(await ledger.lost()).toEqual([]);
  }, 120_000);
});
