import { Readable } from "node:stream";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { statOf } from "../support/api";
import { getJson, retrieve, streamUpload, upload } from "../support/http";

// A replica that dies in the middle of an upload, too late for a spare to take its place: below the
// write quorum the upload fails as a whole, nothing of it becomes visible, and the key keeps the
// version it had.

describe("a storage node killed in the middle of an upload", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({ storageNodes: 3 }); // RF 2, write quorum 2
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("fails the overwrite with 503 and leaves the previous version readable", async () => {
    const key = "midstream/overwrite";
    expect((await upload(cluster.httpUrl, key, "the version that must survive")).status).toBe(201);
    const before = (await statOf(cluster.httpUrl, key))!;
    const victim = before.replicas[0]; // the same key goes to the same nodes while all are live

    // 32 MiB sent a MiB at a time; the victim dies after the 24th: well past the first 8 MiB, which
    // are kept so that a replica failing within them is replaced by a spare node (replica-writer.ts),
    // even with what the client and the coordinator still buffer (killed after the 12th MiB, the
    // coordinator had sometimes passed on under 8 and the upload succeeded on a spare). The 25th MiB
    // goes 200 ms after the kill, the 26th (the coordinator's next whole chunk ends in it) 20 ms
    // later, then the client holds the rest (10 s a MiB). The coordinator answers 503 and closes with
    // a lingering close (api/unread-body.ts): it reads on for a moment, so the bytes the client still
    // sends do not turn the close into a reset that beats the answer (seen in CI before: EPIPE).
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent === 32) return this.push(null);
        sent++;
        if (sent === 25) {
          void cluster.stopNode(victim, "SIGKILL").then(() => setTimeout(() => this.push(chunk), 200));
          return;
        }
        setTimeout(() => this.push(chunk), sent > 26 ? 10_000 : 20).unref();
      },
    });
    try {
      const res = await streamUpload(cluster.httpUrl, key, body, 32 * 1024 * 1024);
      expect(res.status).toBe(503);
      expect(JSON.parse(res.text).error).toBe("Unavailable");
      expect(sent).toBeLessThan(32); // refused while the client still held the rest

      const after = await retrieve(cluster.httpUrl, key);
      expect(after.status).toBe(200);
      expect(after.body.toString()).toBe("the version that must survive");
      expect((await statOf(cluster.httpUrl, key))!.versionId).toBe(before.versionId);
      const listed = await getJson<{ objects: { key: string; size: number }[] }>(`${cluster.httpUrl}/objects?prefix=midstream/`);
      expect(listed.objects).toEqual([expect.objectContaining({ key, size: before.size })]);
    } finally {
      body.destroy();
      cluster.startNode(victim);
      await cluster.waitHealthy();
    }
  }, 60_000);

  it("a replica frozen (SIGSTOP) as a large upload starts is cut by its deadline and a spare takes its place", async () => {
    const key = "midstream/frozen";
    expect((await upload(cluster.httpUrl, key, "placed like the next version")).status).toBe(201);
    const victim = (await statOf(cluster.httpUrl, key))!.replicas[0];
    const pid = cluster.pid(victim)!;
    // 12 MiB, a MiB every 20 ms: the frozen node never lets the blob plane's PUT begin ("100
    // Continue"), so the coordinator cuts it after its start deadline, while it still keeps the
    // first bytes, and a spare node is sent them again.
    const chunk = Buffer.alloc(1024 * 1024, 9);
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent === 12) return this.push(null);
        sent++;
        setTimeout(() => this.push(chunk), 20);
      },
    });
    process.kill(pid, "SIGSTOP");
    let res;
    try {
      res = await streamUpload(cluster.httpUrl, key, body, 12 * 1024 * 1024);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    expect(res.status).toBe(201);
    const stat = (await statOf(cluster.httpUrl, key))!;
    expect(stat.size).toBe(12 * 1024 * 1024);
    expect(stat.replicas).toHaveLength(2);
    expect(stat.replicas).not.toContain(victim);
    const got = await retrieve(cluster.httpUrl, key);
    expect(got.status).toBe(200);
    expect(got.body.equals(Buffer.concat(Array.from({ length: 12 }, () => chunk)))).toBe(true);
    await cluster.waitHealthy();
  }, 90_000);
});
