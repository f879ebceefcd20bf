import { createHash } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { waitNodeDown, waitNodeLive } from "../support/api";
import { retrieve, upload } from "../support/http";

// Issue 13: storage nodes killed (SIGKILL) and restarted by their supervisor cost clients nothing.
// A real cluster (3 storage nodes, 2 replicas, write quorum 2) under a small checked load of 4 KiB
// uploads and reads while one storage node is killed and restarted, and a second one is killed as
// the first is still starting: for a moment one node of three is reachable, below the write quorum
// and holding at most one copy of what is read. Every request must still succeed with the right bytes.

const STORAGE = ["storage-1", "storage-2", "storage-3"];
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Writers and readers in a loop until stopped; every answer that is not a success is kept. */
class CheckedLoad {
  readonly failures: string[] = [];
  readonly written = new Map<string, string>();
  ops = 0;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly base: string,
    inFlight: number,
    private readonly seeded: string[],
  ) {
    this.loops = Array.from({ length: inFlight }, (_, i) => this.loop(i));
  }

  private async loop(worker: number): Promise<void> {
    for (let n = 0; this.running; n++) {
      if (n % 2 === 0) {
        const key = `restarts/w${worker}-${n}`;
        const body = Buffer.alloc(4096, `${key}.`);
        const res = await upload(this.base, key, body);
        if (res.status === 201) this.written.set(key, sha(body));
        else this.failures.push(`upload ${key}: HTTP ${res.status} ${res.body.toString()}`);
      } else {
        // The seeded keys: copies on every pair of nodes, some on both nodes that are down together.
        const key = this.seeded[(worker + n) % this.seeded.length];
        const res = await retrieve(this.base, key);
        if (res.status !== 200) this.failures.push(`retrieve ${key}: HTTP ${res.status} ${res.body.toString()}`);
        else if (sha(res.body) !== sha(Buffer.alloc(4096, `${key}.`))) this.failures.push(`retrieve ${key}: wrong bytes`);
      }
      this.ops++;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

test("killing a storage node, and another while the first is still restarting, fails no request", async () => {
  const cluster = await startCluster();
  try {
    await killTwiceUnderLoad(cluster);
  } finally {
    await cluster.stop();
  }
}, 180_000);

async function killTwiceUnderLoad(cluster: TestCluster): Promise<void> {
  const base = cluster.httpUrl;
  const seeded = Array.from({ length: 24 }, (_, i) => `restarts/seed-${i}`);
  for (const key of seeded) expect((await upload(base, key, Buffer.alloc(4096, `${key}.`))).status).toBe(201);

  const load = new CheckedLoad(base, 4, seeded);
  try {
    await new Promise((r) => setTimeout(r, 500));
    for (const [first, second] of [
      ["storage-1", "storage-2"],
      ["storage-3", "storage-1"],
    ]) {
      await cluster.stopNode(first, "SIGKILL");
      await waitNodeDown(cluster, first);
      cluster.startNode(first); // its supervisor restarts it: up in a second or more
      await cluster.stopNode(second, "SIGKILL"); // ... and meanwhile the next one dies
      cluster.startNode(second);
      await waitNodeLive(cluster, first);
      await waitNodeLive(cluster, second);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await load.stop();
  }
  expect(load.failures).toEqual([]);
  expect(load.ops).toBeGreaterThan(20);
  for (const [key, expected] of load.written) {
    const res = await retrieve(base, key);
    expect([key, res.status, sha(res.body)]).toEqual([key, 200, expected]);
  }
  for (const id of STORAGE) await waitNodeLive(cluster, id);
}
