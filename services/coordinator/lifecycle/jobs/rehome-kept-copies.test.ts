import { randomBytes } from "node:crypto";
import { newVersionId } from "../../../common/ids";
import { collect, silentLog } from "../../../rpc/testing/test-helpers";
import { Catalogue } from "../../catalogue/catalogue";
import { throwawayCatalogueDatabase } from "../../catalogue/testing/throwaway-database";
import { ReplicaReader } from "../../replicas/replica-reader";
import { startNodes, type InProcessNodes } from "../../replicas/testing/in-process-nodes";
import type { JobContext } from "./job";
import { inProcessJobContext } from "./testing/in-process-job-context";
import { rehome } from "./rehome";

// A version listed on more than R nodes has its surplus strays dropped by rehome. The copies that
// stay must be proven first: a home copy whose file is gone or rotten would leave fewer real copies
// than R once the stray went, perhaps none. Real node servers in this process, a real catalogue on
// MariaDB, the real rehome job.

const CHUNK = 64 * 1024;
const R = 2;
const db = throwawayCatalogueDatabase();

let nodes: InProcessNodes;
beforeAll(async () => {
  nodes = await startNodes([{ id: "s1" }, { id: "s2" }, { id: "s3" }], CHUNK);
});
afterAll(() => nodes.close());

const queued: string[] = [];

function context(catalogue: Catalogue): JobContext {
  // Home is s1 and s2: a copy on s3 is a stray.
  return inProcessJobContext(nodes, catalogue, CHUNK, { targets: ["s1", "s2"], replicas: R, writeQuorum: R, queued });
}

/** A large version (a file on each node, so a byte of it can rot) stored on `on`, listed on s1, s2, s3. */
async function listedOnThree(catalogue: Catalogue, key: string, on: string[]) {
  const data = randomBytes(3 * CHUNK + 17);
  const row = await nodes.store(newVersionId(), data, on);
  await catalogue.commit({ ...row, replicas: ["s1", "s2", "s3"], bucket: `kept-${process.pid}`, key, createdMs: Date.now() });
  return { versionId: row.versionId, data };
}

test("a surplus stray is dropped only once the home copies that stay have proven themselves", async () => {
  const catalogue = new Catalogue(db.pool(), 60_000);
  // The job reads the rows as another coordinator would: not from this catalogue's read cache.
  const reads = new Catalogue(db.pool(), 60_000);
  const ctx = context(reads);
  const reader = new ReplicaReader(nodes.pool, CHUNK, silentLog);
  const readBack = async (versionId: string) => {
    const v = (await reads.version(versionId))!;
    return collect(await reader.open(v, 0, v.size, undefined));
  };

  // Both home nodes lost their files (a disk replaced): the stray is the only real copy.
  const gone = await listedOnThree(catalogue, "gone", ["s3"]);
  // s1's copy rotted: s2 and the stray are the only good ones.
  const rotten = await listedOnThree(catalogue, "rotten", ["s1", "s2", "s3"]);
  await nodes.corruptFile("s1", rotten.versionId, 5);
  // The control: every copy is right, so the stray goes.
  const sound = await listedOnThree(catalogue, "sound", ["s1", "s2", "s3"]);

  await rehome(ctx, gone.versionId);
  await rehome(ctx, rotten.versionId);
  expect(await rehome(ctx, sound.versionId)).toMatchObject({ moved: true });

  for (const { versionId, data } of [gone, rotten]) {
    expect(await nodes.backend("s3").stat(versionId)).not.toBeNull();
    expect((await reads.version(versionId))!.replicas).toContain("s3");
    expect((await readBack(versionId)).equals(data)).toBe(true);
  }
  // A kept copy found bad is repair's to replace.
  expect(queued).toEqual(expect.arrayContaining([`repair/${gone.versionId}`, `repair/${rotten.versionId}`]));

  expect(await nodes.backend("s3").stat(sound.versionId)).toBeNull();
  expect((await reads.version(sound.versionId))!.replicas.sort()).toEqual(["s1", "s2"]);
  expect((await readBack(sound.versionId)).equals(sound.data)).toBe(true);
});
