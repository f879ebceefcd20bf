import { randomBytes } from "node:crypto";
import { startCluster } from "../../deploy/launcher/cluster";
import { sha256 } from "../support/bodies";
import { getJson, retrieve, stat, upload } from "../support/http";
import { waitFor } from "../support/wait";

// A node's index of small blobs is heap, and a node past its heap's limit crashes, at every restart
// too. With MINIS3_NODE_MAX_SMALL_BLOBS a node refuses new small blobs at its bound instead: the
// delete node's refusal leaves an overwritten version on its storage nodes, still restorable, until
// the trash has room; storage nodes that are all full answer uploads 503, and what they acknowledged
// is all there. Bounds of a few blobs so the test fills them in seconds.

interface VersionStat {
  versionId: string;
  replicas: string[];
}

test("nodes at their index bound refuse new small blobs: trash moves wait, uploads get 503, nothing acknowledged is lost", async () => {
  const cluster = await startCluster({
    env: { MINIS3_NODE_MAX_SMALL_BLOBS: "4" },
    prepare: (spec) => {
      if (spec.name.startsWith("delete")) spec.env.MINIS3_NODE_MAX_SMALL_BLOBS = "1";
    },
  });
  try {
    const base = cluster.httpUrl;
    const statVersion = async (key: string, versionId: string) =>
      getJson<VersionStat>(`${base}/stat?key=${encodeURIComponent(key)}&versionId=${versionId}`);
    const bodies = [randomBytes(3000), randomBytes(3000), randomBytes(3000)];
    const versions: string[] = [];
    for (const body of bodies) {
      const res = await upload(base, "doc", body);
      expect(res.status).toBe(201);
      versions.push((JSON.parse(res.body.toString()) as { versionId: string }).versionId);
      if (versions.length === 2) {
        // The first overwrite's trash copy takes the delete node's one place.
        await waitFor(
          "the first version's move to the trash",
          async () => (await statVersion("doc", versions[0])).replicas.every((n) => n.startsWith("delete")),
          30_000,
        );
      }
    }
    // The second one's is refused: the version stays on its storage nodes, restorable.
    await waitFor(
      "the delete node's refusal",
      async () => cluster.logs("delete-1", 200).some((l) => l.includes("small puts refused")),
      30_000,
    );
    const waiting = await statVersion("doc", versions[1]);
    expect(waiting.replicas).toHaveLength(2);
    expect(waiting.replicas.some((n) => n.startsWith("delete"))).toBe(false);
    expect(sha256((await retrieve(base, "doc")).body)).toBe(sha256(bodies[2]));

    // Three storage nodes of four places each, two copies an object: the rest fills them.
    const stored = new Map<string, Buffer>();
    let refused: { key: string; status: number } | undefined;
    for (let i = 0; refused === undefined && i < 20; i++) {
      const body = randomBytes(2000);
      const res = await upload(base, `fill/${i}`, body);
      if (res.status === 201) stored.set(`fill/${i}`, body);
      else refused = { key: `fill/${i}`, status: res.status };
    }
    expect(refused?.status).toBe(503);
    expect(stored.size).toBeGreaterThanOrEqual(2);
    for (const [key, body] of stored) expect(sha256((await retrieve(base, key)).body)).toBe(sha256(body));
    expect(sha256((await retrieve(base, "doc")).body)).toBe(sha256(bodies[2]));
    expect((await stat(base, refused!.key)).status).toBe(404); // no partial object
  } finally {
    await cluster.stop();
  }
}, 120_000);
