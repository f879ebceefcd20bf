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
    // coordinator had sometimes passed on under 8 and the upload succeeded on a spare).
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
        setTimeout(() => this.push(chunk), 20);
      },
    });
    const res = await streamUpload(cluster.httpUrl, key, body, 32 * 1024 * 1024);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text).error).toBe("Unavailable");

    const after = await retrieve(cluster.httpUrl, key);
    expect(after.status).toBe(200);
    expect(after.body.toString()).toBe("the version that must survive");
    expect((await statOf(cluster.httpUrl, key))!.versionId).toBe(before.versionId);
    const listed = await getJson<{ objects: { key: string; size: number }[] }>(`${cluster.httpUrl}/objects?prefix=midstream/`);
    expect(listed.objects).toEqual([expect.objectContaining({ key, size: before.size })]);

    cluster.startNode(victim);
    await cluster.waitHealthy();
  });
});
