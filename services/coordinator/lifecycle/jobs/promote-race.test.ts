import { randomBytes } from "node:crypto";
import { newVersionId } from "../../../common/ids";
import { Catalogue } from "../../catalogue/catalogue";
import { throwawayCatalogueDatabase } from "../../catalogue/testing/throwaway-database";
import { startNodes, type InProcessNodes } from "../../replicas/testing/in-process-nodes";
import type { JobContext } from "./job";
import { inProcessJobContext } from "./testing/in-process-job-context";
import { promote } from "./promote";

// Two runs of one promotion (a BullMQ job retried after its worker stalled, or two lifecycle
// leaders during a handover): the first commits the version hot on s1, s2 and s3; the second read
// the row (cold) before that and writes its copies after. Its copies to the nodes the row lists are
// harmless as long as what it deletes goes through the row lock (Catalogue.cleanCopies spares the
// listed nodes). Real node servers in this process, a real catalogue on MariaDB.

const CHUNK = 64 * 1024;
const db = throwawayCatalogueDatabase();

let nodes: InProcessNodes;
beforeAll(async () => {
  nodes = await startNodes([{ id: "b1" }, { id: "s1" }, { id: "s2" }, { id: "s3" }], CHUNK);
});
afterAll(() => nodes.close());

function context(catalogue: Catalogue): JobContext {
  return inProcessJobContext(nodes, catalogue, CHUNK, { targets: ["s1", "s2", "s3"], replicas: 3, writeQuorum: 2 });
}

const holds = async (node: string, versionId: string) => (await nodes.backend(node).stat(versionId)) !== null;

async function until(check: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end && !check();) await new Promise((r) => setTimeout(r, 20));
}

test("a promotion that lost its race never deletes a copy the winner's commit lists", async () => {
  const catalogue = new Catalogue(db.pool(), 60_000);
  const ctx = context(catalogue);
  const data = randomBytes(3000); // small: whole over Exchange
  const versionId = newVersionId();
  const row = await nodes.store(versionId, data, ["b1"]);
  await catalogue.commit({ ...row, bucket: `promote-race-${process.pid}`, key: "k", createdMs: Date.now() });
  await db.pool().query("UPDATE versions SET tier = 'cold' WHERE version_id = ?", [versionId]);

  // The stalled run: it read the row (cold, on b1) and is reading the bytes from b1 when it stalls.
  const b1 = nodes.backend("b1");
  b1.stallReadsAfter = 0;
  const late = promote.process({ versionId }, ctx);
  late.catch(() => undefined);
  await until(() => (b1 as unknown as { stalls: Set<unknown> }).stalls.size > 0, 5000);
  b1.stallReadsAfter = undefined;

  // The retry promotes it: hot on s1, s2, s3; b1's copy deleted under the row lock.
  expect(await promote.process({ versionId }, ctx)).toBe("promoted");
  expect(await catalogue.version(versionId)).toMatchObject({ state: "live", tier: "hot", replicas: ["s1", "s2", "s3"] });
  for (const n of ["s1", "s2", "s3"]) expect(await holds(n, versionId)).toBe(true);

  // s2 and s3 are unreachable for a moment as the stalled run wakes up and writes its copies: it
  // reaches s1 only, short of its quorum of 2, and fails.
  await nodes.stopServer("s2");
  await nodes.stopServer("s3");
  b1.releaseStalls(true);
  await expect(late).rejects.toThrow();
  await nodes.startServer("s2");
  await nodes.startServer("s3");

  // The catalogue still names s1, s2 and s3 (the late run never committed): each must hold the copy.
  const now = (await catalogue.version(versionId))!;
  expect(now).toMatchObject({ state: "live", tier: "hot", replicas: ["s1", "s2", "s3"] });
  const missing: string[] = [];
  for (const n of now.replicas) if (!(await holds(n, versionId))) missing.push(n);
  expect(missing).toEqual([]);
});
