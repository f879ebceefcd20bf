import { createHash, randomBytes } from "node:crypto";
import { newVersionId } from "../../services/common/ids";
import { openTestDb, type TestDb } from "../../services/backup-node/test-support";
import type { MysqlBackupBackend } from "../../services/backup-node/backup-backend";
import { NodeClient } from "../../services/rpc/client/node-client";
import { startNodeServer, type RunningNodeServer } from "../../services/rpc/server/node-server";
import { silentLog } from "../../services/rpc/testing/test-helpers";
import { Catalogue } from "../../services/coordinator/catalogue/catalogue";
import { throwawayCatalogueDatabase } from "../../services/coordinator/catalogue/testing/throwaway-database";
import { OrphanSweep } from "../../services/coordinator/lifecycle/scrub/orphan-sweep";

// The orphan sweep times its grace per incarnation (storedAtMs): "a copy deleted and written
// again, say by a repair choosing that node, starts over". The backup node does not write a copy
// again when an identical complete one exists: it keeps the old one (blob-rows.ts,
// replaceCompleteCopies), and kept its storedAtMs too until 2026-12-07. So a demotion that copies a version to the backup node
// where an orphan of the same bytes has sat unnamed for a grace (an earlier demotion whose
// coordinator died before its commit, then reads that put the next one off) gets an answer for a
// copy the sweep may delete before the demotion's commit names it: the version is then cold on a
// copy that does not exist, and its hot copies are deleted by the commit's cleanup.
// Real MariaDB (catalogue and cold tier), a real backup node server in this process.

const db = throwawayCatalogueDatabase();
let cold: TestDb;
let backend: MysqlBackupBackend;
let server: RunningNodeServer;
let b1: NodeClient;
let catalogue: Catalogue;

beforeAll(async () => {
  cold = await openTestDb();
  backend = await cold.backend("b1");
  server = await startNodeServer(backend, "127.0.0.1", 0, { id: "b1", chunkSize: 64 * 1024, log: silentLog });
  b1 = new NodeClient("b1", `127.0.0.1:${server.port}`, { deadlineMs: 5000 });
  catalogue = new Catalogue(db.pool(), 60_000);
});
afterAll(async () => {
  b1?.close();
  await server?.stop(100);
  await backend?.close();
  await cold?.close();
});

test("a demotion's copy answered by the backup node between two sweeps is not deleted as the orphan it replaced", async () => {
  const data = randomBytes(3000);
  const sha = createHash("sha256").update(data).digest();
  const versionId = newVersionId();
  await catalogue.commit({
    versionId,
    bucket: "b",
    key: `k-${randomBytes(6).toString("hex")}`,
    size: data.length,
    sha256: sha.toString("hex"),
    etag: createHash("md5").update(data).digest("hex"),
    contentType: "application/octet-stream",
    metadata: {},
    replicas: ["s1", "s2"],
    createdMs: Date.now(),
  });
  // A first demotion copied the version to b1, and its coordinator died before the commit.
  const first = await b1.putSmall(versionId, {}, data, sha);

  const grace = 60_000;
  let now = 0;
  const sweep = new OrphanSweep(
    { nodes: () => ["b1"], client: () => b1, named: (ids) => catalogue.scrub.namedNodes(ids), log: silentLog },
    grace,
    () => now,
  );
  expect(await sweep.sweep()).toBe(0); // first sighting: a real orphan, for now

  // A grace later the demotion runs again: b1 answers for the copy (its write is done, verified)...
  now = grace;
  await new Promise((r) => setTimeout(r, 5)); // written a grace later, not in the same millisecond
  const again = await b1.putSmall(versionId, {}, data, sha);
  // Kept as identical, but as a new incarnation (its storedAtMs the new write's): the grace starts over.
  expect(again.storedAtMs).toBeGreaterThan(first.storedAtMs);
  // ...and before its commit lands, the sweep comes round.
  await sweep.sweep();
  const v = (await catalogue.version(versionId))!;
  expect(
    await catalogue.moveTier(versionId, { state: "live", tier: "hot", gen: v.gen }, { tier: "cold", replicas: ["b1"] }, ["s1", "s2"]),
  ).toBe(true);

  // The catalogue now names b1 as the version's only copy: it must be there.
  expect(await b1.statBlob(versionId)).not.toBeNull();
});
