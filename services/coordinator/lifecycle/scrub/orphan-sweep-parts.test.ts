import { createHash, randomBytes } from "node:crypto";
import { newVersionId } from "../../../common/ids";
import { silentLog } from "../../../rpc/testing/test-helpers";
import { Catalogue } from "../../catalogue/catalogue";
import { throwawayCatalogueDatabase } from "../../catalogue/testing/throwaway-database";
import { startNodes, type InProcessNodes } from "../../replicas/testing/in-process-nodes";
import { OrphanSweep } from "./orphan-sweep";

// A multipart upload's parts are blobs that no `versions` row names until Complete: the orphan
// sweep must count the `multipart_parts` rows as naming them, or it would delete every part of an
// upload that takes longer than the grace. Real MariaDB, real node servers in this process.

const CHUNK = 64 * 1024;
const db = throwawayCatalogueDatabase();
let nodes: InProcessNodes;
let catalogue: Catalogue;

beforeAll(async () => {
  nodes = await startNodes([{ id: "s1" }, { id: "s2" }], CHUNK);
  catalogue = new Catalogue(db.pool(), 60_000);
});
afterAll(() => nodes.close());

const holders = async (blobId: string) => {
  const out: string[] = [];
  for (const id of ["s1", "s2"]) if (await nodes.backend(id).stat(blobId)) out.push(id);
  return out;
};

test("parts' copies are named by their rows and kept; a copy nothing names goes; a part's copy on a node its row leaves out goes", async () => {
  const uploadId = newVersionId();
  await catalogue.multipart.create({ uploadId, bucket: "b", key: "k", contentType: "", metadata: {}, createdMs: Date.now() });
  const parts = [randomBytes(CHUNK * 2), randomBytes(100)];
  const blobs: string[] = [];
  for (const [i, data] of parts.entries()) {
    const blobId = newVersionId();
    blobs.push(blobId);
    await nodes.store(blobId, data, ["s1", "s2"]);
    // Part 2's row names only s1: its copy on s2 is no row's.
    const replicas = i === 0 ? ["s1", "s2"] : ["s1"];
    const put = await catalogue.multipart.putPart({
      uploadId,
      partNumber: i + 1,
      size: data.length,
      etag: createHash("md5").update(data).digest("hex"),
      sha256: createHash("sha256").update(data).digest("hex"),
      blobId,
      replicas,
      createdMs: Date.now(),
    });
    expect(put).toEqual({ accepted: true, replaced: null });
  }
  const stray = newVersionId();
  await nodes.store(stray, Buffer.from("stray"), ["s1"]);

  const sweep = new OrphanSweep(
    { nodes: () => ["s1", "s2"], client: (id) => nodes.pool.client(id), named: (ids) => catalogue.scrub.namedNodes(ids), log: silentLog },
    0, // no grace: whatever is unnamed goes at the first sweep
  );
  expect(await sweep.sweep()).toBe(2);
  expect(await holders(stray)).toEqual([]);
  expect(await holders(blobs[0])).toEqual(["s1", "s2"]);
  expect(await holders(blobs[1])).toEqual(["s1"]);

  // Once the upload is aborted its rows are gone, and so is the sweep's reason to keep the copies.
  const dropped = await catalogue.multipart.abort(uploadId, Date.now());
  expect(Array.isArray(dropped) && dropped.map((b) => b.blobId).sort()).toEqual([...blobs].sort());
  expect(await sweep.sweep()).toBe(3);
  for (const blob of blobs) expect(await holders(blob)).toEqual([]);
});
