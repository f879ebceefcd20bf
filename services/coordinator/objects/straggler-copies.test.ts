import { randomBytes } from "node:crypto";
import { PullUnsupported, type NodeClient } from "../../rpc/client/node-client";
import { silentLog } from "../../rpc/testing/test-helpers";
import { Catalogue } from "../catalogue/catalogue";
import { throwawayCatalogueDatabase } from "../catalogue/testing/throwaway-database";
import { BlobCopier } from "../replicas/blob-copier";
import { startNodes, versionOf, type InProcessNodes } from "../replicas/testing/in-process-nodes";
import { storeOnNodes } from "./testing/store-on-nodes";

// A large upload at R = 3 with a write quorum of 2 answers once two replicas committed; the third,
// stuck in its commit, is a straggler whose copy is deleted when its call settles. By then the
// version may have been repaired onto that very node (repair takes the first live node the row
// does not list): the same blob id, a verified copy the catalogue lists, which must stay. So the
// engine's and the lifecycle copier's late copies go under the version's row lock
// (Catalogue.cleanCopies). Real node servers in this process, a real catalogue on MariaDB.

const CHUNK = 64 * 1024;
const db = throwawayCatalogueDatabase();

let nodes: InProcessNodes;
beforeAll(async () => {
  // The commit deadline well past the test: the straggler is released by the test, not cut off.
  nodes = await startNodes([{ id: "q1" }, { id: "q2" }, { id: "q3" }], CHUNK, { commitMs: 60_000 });
});
afterAll(() => nodes.close());

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

const holds = async (node: string, versionId: string) => (await nodes.backend(node).stat(versionId)) !== null;

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await check()) return true;
  return check();
}

const storeOn = (catalogue: Catalogue) => storeOnNodes(nodes, catalogue, { replicas: 3, writeQuorum: 2, chunkSize: CHUNK });

const setReplicas = (versionId: string, replicas: string) =>
  db.pool().query("UPDATE versions SET replicas = ?, gen = gen + 1 WHERE version_id = ?", [replicas, versionId]);

test("a straggler's late copy is deleted where the row does not list it, and spared where a repair has listed it since", async () => {
  const catalogue = new Catalogue(db.pool(), 60_000);
  const store = storeOn(catalogue);
  try {
    nodes.backend("q3").stallCommits = true;
    const put = async (key: string) => {
      const data = randomBytes(4 * CHUNK + 7);
      const v = await store.put({ bucket: "late", key, contentType: "", metadata: {}, body: once(data), requestId: undefined });
      expect([...v.replicas].sort()).toEqual(["q1", "q2"]); // answered at the quorum, q3 still committing
      return { ...v, data };
    };
    const repaired = await put("repaired");
    const left = await put("left");
    nodes.backend("q3").stallCommits = false;

    // The repair of `repaired`: a verified copy on q3 from a listed one, then its row lists q3.
    const copier = new BlobCopier(nodes.pool, silentLog, CHUNK);
    const row = versionOf(repaired.versionId, repaired.data, ["q1", "q2"]);
    expect(await copier.copy(row, ["q1", "q2"], ["q3"], 1)).toEqual(["q3"]);
    await setReplicas(repaired.versionId, "q1,q2,q3");

    // The stuck commits come back: q3 holds both stragglers' copies until their late deletes run.
    nodes.backend("q3").releaseStalls(true);
    expect(await until(async () => !(await holds("q3", left.versionId)), 10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500)); // both late deletes were released together
    expect(await holds("q3", repaired.versionId)).toBe(true);
    expect((await catalogue.version(repaired.versionId))?.replicas.sort()).toEqual(["q1", "q2", "q3"]);
    expect((await catalogue.version(left.versionId))?.replicas.sort()).toEqual(["q1", "q2"]);
  } finally {
    await store.close();
  }
});

test("a lifecycle copy's straggler likewise: its late copy goes under the row lock, never where the row lists that node", async () => {
  const catalogue = new Catalogue(db.pool(), 60_000);
  const store = storeOn(catalogue);
  try {
    // Two versions held on q1 alone, each copied to q2 and q3 at a quorum of one while q3's commits stick.
    const versions = [];
    for (const key of ["kept", "dropped"]) {
      const data = randomBytes(4 * CHUNK + 7);
      const v = await store.put({ bucket: "late", key, contentType: "", metadata: {}, body: once(data), requestId: undefined });
      await setReplicas(v.versionId, "q1");
      versions.push(versionOf(v.versionId, data, ["q1"]));
    }
    // Nodes too old to pull (PullUnsupported): the copier streams the bytes to them through its writer.
    for (const id of ["q2", "q3"]) {
      nodes.pool.client(id).pullBlob = () => Promise.reject(new PullUnsupported(`node ${id} does not serve PullBlob (test)`));
    }
    nodes.backend("q3").stallCommits = true;
    const copier = new BlobCopier(nodes.pool, silentLog, CHUNK, undefined, (id, strays, remove) =>
      catalogue.cleanCopies(id, strays, remove),
    );
    for (const v of versions) {
      expect(await copier.copy(v, ["q1"], ["q2", "q3"], 1)).toEqual(["q2"]);
      await setReplicas(v.versionId, "q1,q2"); // the job's commit
    }
    nodes.backend("q3").stallCommits = false;
    // Meanwhile a repair copies `kept` to q3 and lists it there.
    const [kept, dropped] = versions;
    expect(await new BlobCopier(nodes.pool, silentLog, CHUNK).copy(kept, ["q1"], ["q3"], 1)).toEqual(["q3"]);
    await setReplicas(kept.versionId, "q1,q2,q3");

    nodes.backend("q3").releaseStalls(true);
    expect(await until(async () => !(await holds("q3", dropped.versionId)), 10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(await holds("q3", kept.versionId)).toBe(true);
  } finally {
    for (const id of ["q2", "q3"]) delete (nodes.pool.client(id) as Partial<NodeClient>).pullBlob; // the prototype's again
    await store.close();
  }
});
