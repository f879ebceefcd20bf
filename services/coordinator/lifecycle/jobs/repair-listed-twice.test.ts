import type { RowDataPacket } from "mysql2/promise";
import { randomBytes } from "node:crypto";
import { newVersionId } from "../../../common/ids";
import { Catalogue } from "../../catalogue/catalogue";
import { throwawayCatalogueDatabase } from "../../catalogue/testing/throwaway-database";
import { startNodes, type InProcessNodes } from "../../replicas/testing/in-process-nodes";
import type { JobContext } from "./job";
import { inProcessJobContext } from "./testing/in-process-job-context";
import { repair } from "./repair";

// A large upload before 2026-12-07 could list a node twice (a target unreachable at the start that
// came back as a replacement). Such a row must read as the copies it has, be found short, and be
// repaired to R distinct copies with its list written back once each. Real node servers in this
// process, a real catalogue on MariaDB, the real repair job.

const CHUNK = 64 * 1024;
const db = throwawayCatalogueDatabase();

let nodes: InProcessNodes;
beforeAll(async () => {
  nodes = await startNodes([{ id: "s1" }, { id: "s2" }, { id: "s3" }], CHUNK);
});
afterAll(() => nodes.close());

function context(catalogue: Catalogue): JobContext {
  return inProcessJobContext(nodes, catalogue, CHUNK, { targets: ["s1", "s2", "s3"], replicas: 2, writeQuorum: 2 });
}

const stored = async (catalogue: Catalogue, key: string, on: string[], listed: string[]) => {
  const row = await nodes.store(newVersionId(), randomBytes(3000), on);
  await catalogue.commit({ ...row, replicas: listed, bucket: `twice-${process.pid}`, key, createdMs: Date.now() });
  return row.versionId;
};

test("a row that names a node twice is repaired to R distinct copies and written back once each", async () => {
  const catalogue = new Catalogue(db.pool(), 60_000);
  // The job reads the rows as a coordinator started after they were written does: not from this
  // catalogue's read cache, which holds them as committed here.
  const ctx = context(new Catalogue(db.pool(), 60_000));
  // One copy, listed as two; and two copies, one of them listed twice (enough copies, a wrong list).
  const short = await stored(catalogue, "short", ["s1"], ["s1", "s1"]);
  const wordy = await stored(catalogue, "wordy", ["s1", "s2"], ["s1", "s2", "s1"]);
  const found = (await catalogue.lifecycle.underReplicated(2, 100_000)).map((r) => r.versionId);
  expect(found).toEqual(expect.arrayContaining([short, wordy]));

  expect(await repair.process({ versionId: short }, ctx)).toBe("repaired");
  expect(await repair.process({ versionId: wordy }, ctx)).toBe("repaired");
  const [rows] = await db
    .pool()
    .query<RowDataPacket[]>("SELECT version_id, replicas FROM versions WHERE version_id IN (?, ?)", [short, wordy]);
  const listed = new Map(rows.map((r) => [r.version_id as string, (r.replicas as string).split(",").sort()]));
  expect(listed.get(short)).toEqual(["s1", "s2"]);
  expect(listed.get(wordy)).toEqual(["s1", "s2"]);
  for (const n of ["s1", "s2"]) expect(await nodes.backend(n).stat(short)).not.toBeNull();
  const after = (await catalogue.lifecycle.underReplicated(2, 100_000)).map((r) => r.versionId);
  expect(after).not.toContain(short);
  expect(after).not.toContain(wordy);
});
