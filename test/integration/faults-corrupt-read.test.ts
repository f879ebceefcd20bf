import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { TestObjectClient } from "../../services/coordinator/api/testing/grpc-clients";
import { statOf } from "../support/api";
import { seededBytes, sha256 } from "../support/bodies";
import { ClusterInspector } from "../support/cluster-inspector";
import { corruptLargeReplica, corruptSmallReplica } from "../support/corrupt-replica";
import { keyQuery, retrieveOutcome, signedFetch, upload, type RetrieveOutcome } from "../support/http";
import { waitFor } from "../support/wait";

// Issue 12 item 2, review finding 3: a replica whose bytes rotted on disk (one byte flipped past its
// header; the header, with the right sha256, intact) must never reach a client as a successful
// read, and repair must notice it by its content (stat reads only the header) and replace it.

const MiB = 1024 * 1024;
const LARGE = 3 * MiB + 1234; // well above the 256 KiB small/large threshold: streamed from a file

/** A complete 200 must carry exactly the uploaded bytes; a cut response is allowed, a wrong one never. */
function expectNeverWrong(o: RetrieveOutcome, body: Buffer): void {
  if (o.status === 200 && o.complete) expect({ size: o.size, sha256: o.sha256 }).toEqual({ size: body.length, sha256: sha256(body) });
  else expect(o.complete && o.status === 200).toBe(false);
}

describe("a corrupt replica is never served as success, and repair replaces it", () => {
  let cluster: TestCluster;
  let nodes: ClusterInspector;
  let grpcClient: TestObjectClient;

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      // Repair runs once this coordinator has watched the nodes for MINIS3_REPAIR_AFTER.
      // The small object's GETs must reach its replicas, the bad one first: the coordinator's body
      // cache would answer them from the upload's own bytes (and the scrubber find the bad copy).
      env: { MINIS3_REPAIR_AFTER: "2s", MINIS3_RECONCILE_INTERVAL: "1s", MINIS3_BODY_CACHE_BYTES: "0" },
    });
    nodes = new ClusterInspector(cluster);
    grpcClient = TestObjectClient.create("generated", cluster.grpcAddress);
  }, 90_000);

  afterAll(async () => {
    grpcClient?.close();
    await nodes?.close();
    await cluster?.stop();
  });

  /** Uploads `body`, corrupts the copy its reads go to first, and returns the version and replicas. */
  async function uploadAndCorrupt(key: string, body: Buffer): Promise<{ versionId: string; replicas: string[] }> {
    expect((await upload(cluster.httpUrl, key, body)).status).toBe(201);
    const s = (await statOf(cluster.httpUrl, key))!;
    expect(s.replicas).toHaveLength(2);
    // Reads go to live replicas in list order: the first one is read first.
    if (body.length > 256 * 1024) await corruptLargeReplica(cluster, s.replicas[0], s.versionId, body.length, Math.floor(body.length / 2));
    else await corruptSmallReplica(cluster, s.replicas[0], s.versionId);
    expect(await nodes.verifyOn(s.replicas[0], s.versionId)).toBe("corrupt");
    expect(await nodes.verifyOn(s.replicas[1], s.versionId)).toBe("ok");
    return s;
  }

  /** Every copy the catalogue lists checks out by content, and there are R of them. */
  async function waitRepaired(key: string, body: Buffer): Promise<void> {
    await waitFor(
      `${key}: two replicas, each verified by content`,
      async () => {
        const s = await statOf(cluster.httpUrl, key);
        if (!s || s.replicas.length !== 2) return undefined;
        const verdicts = await Promise.all(s.replicas.map((id) => nodes.verifyOn(id, s.versionId)));
        return verdicts.every((v) => v === "ok") || undefined;
      },
      20_000,
      250,
    );
    const s = (await statOf(cluster.httpUrl, key))!;
    expect(s.sha256).toBe(sha256(body));
    for (const id of s.replicas) expect((await nodes.hashOn(id, s.versionId)).sha256).toBe(sha256(body));
  }

  it("a large object: GET over HTTP never completes with wrong bytes; repair replaces the bad copy", async () => {
    const body = seededBytes("corrupt-large-http", LARGE);
    await uploadAndCorrupt("rot/large-http", body);
    const outcomes: RetrieveOutcome[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await retrieveOutcome(cluster.httpUrl, "rot/large-http"));
    for (const o of outcomes) expectNeverWrong(o, body);
    // The first read went to the bad copy and was cut; the coordinator then reads the good one first.
    expect(outcomes[0].complete).toBe(false);
    expect(outcomes.slice(1).every((o) => o.complete && o.sha256 === sha256(body))).toBe(true);
    await waitRepaired("rot/large-http", body);
    const after = await retrieveOutcome(cluster.httpUrl, "rot/large-http");
    expect(after).toMatchObject({ status: 200, complete: true, sha256: sha256(body) });
  }, 60_000);

  it("a large object: gRPC GetObject never ends cleanly with wrong bytes; repair replaces the bad copy", async () => {
    const body = seededBytes("corrupt-large-grpc", LARGE);
    await uploadAndCorrupt("rot/large-grpc", body);
    const results: string[] = [];
    for (let i = 0; i < 4; i++) {
      const got = await grpcClient.get({ bucket: "default", key: "rot/large-grpc" }).catch((e: Error) => e);
      results.push(got instanceof Error ? `error ${(got as { code?: number }).code}` : sha256(got.data));
    }
    // Never a clean end with other bytes: the first read (the bad copy) fails, the others are right.
    expect(results).toEqual([expect.stringMatching(/^error/), sha256(body), sha256(body), sha256(body)]);
    await waitRepaired("rot/large-grpc", body);
    const got = await grpcClient.get({ bucket: "default", key: "rot/large-grpc" });
    expect(sha256(got.data)).toBe(sha256(body));
  }, 60_000);

  it("a large object: a ranged GET of the rotten bytes is served whole and right from the good copy", async () => {
    const body = seededBytes("corrupt-large-range", LARGE);
    await uploadAndCorrupt("rot/large-range", body);
    const at = Math.floor(body.length / 2); // the flipped byte
    for (let i = 0; i < 3; i++) {
      const res = await signedFetch(`${cluster.httpUrl}/retrieve?${keyQuery("rot/large-range")}`, {
        headers: { range: `bytes=${at - 100}-${at + 99}` },
      });
      expect(res.status).toBe(206);
      // The node checks the block before sending any of it, so the read moves to the good copy at once.
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body.subarray(at - 100, at + 100)));
    }
    await waitRepaired("rot/large-range", body);
  }, 60_000);

  it("a small object: GET returns the right bytes from the good copy; repair replaces the bad one", async () => {
    const body = seededBytes("corrupt-small", 20_000);
    await uploadAndCorrupt("rot/small", body);
    for (let i = 0; i < 4; i++) {
      const o = await retrieveOutcome(cluster.httpUrl, "rot/small");
      expect(o).toMatchObject({ status: 200, complete: true, size: body.length, sha256: sha256(body) });
    }
    await waitRepaired("rot/small", body);
  }, 60_000);
});
