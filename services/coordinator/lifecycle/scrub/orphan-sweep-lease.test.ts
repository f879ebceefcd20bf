import { randomBytes } from "node:crypto";
import { newVersionId } from "../../../common/ids";
import { silentLog } from "../../../rpc/testing/test-helpers";
import { Catalogue } from "../../catalogue/catalogue";
import { CreateScrubState1732500000400 } from "../../catalogue/scrub-schema";
import { throwawayCatalogueDatabase } from "../../catalogue/testing/throwaway-database";
import { startNodes, type InProcessNodes } from "../../replicas/testing/in-process-nodes";
import type { SweptNode } from "./orphan-sweep";
import { Scrubber } from "./scrubber";

// Only the coordinator holding the scrub lease sweeps orphans. One paused past its lease (SIGSTOP,
// a long GC) may find on waking that another took it over; its pass must not go on deleting copies
// it judged orphans under the old lease. Real MariaDB (the lease row), a real node server.

const CHUNK = 64 * 1024;
const LEASE_MS = 600;
const db = throwawayCatalogueDatabase([CreateScrubState1732500000400]);

let nodes: InProcessNodes;
beforeAll(async () => {
  nodes = await startNodes([{ id: "s1" }], CHUNK);
});
afterAll(() => nodes.close());

function scrubber(catalogue: Catalogue, owner: string, client: SweptNode): Scrubber {
  return new Scrubber(
    {
      catalogue,
      nodes: { isLive: () => true, failed: () => undefined },
      verify: async () => ({ verdict: "ok" }),
      sweptNodes: () => ["s1"],
      sweptClient: () => client,
      repair: () => undefined,
      log: silentLog,
    },
    // No grace: whatever no row names is due at the first sweep, which is a scrubber's first step.
    { bytesPerSecond: 1e12, orphanGraceMs: 0, replicas: 2, owner, leaseMs: LEASE_MS, passPauseMs: 4242 },
  );
}

test("a sweep paused past its lease, which another coordinator took meanwhile, deletes nothing on waking", async () => {
  const catalogue = new Catalogue(db.pool(), 60_000);
  const orphans: string[] = [];
  for (let i = 0; i < 3; i++) orphans.push((await nodes.store(newVersionId(), randomBytes(500), ["s1"])).versionId);
  const held = async () => (await Promise.all(orphans.map((id) => nodes.backend("s1").stat(id)))).filter(Boolean).length;

  const real = nodes.pool.client("s1");
  const deletes: string[] = [];
  let paused = false;
  const client: SweptNode = {
    listBlobs: () => real.listBlobs(),
    async statBlob(blobId) {
      const meta = await real.statBlob(blobId);
      if (!paused) {
        paused = true;
        // While A is stopped its lease runs out and B takes it (B's acquire is made here, with the
        // catalogue time it would have then, as this process is about to freeze)...
        const later = (await catalogue.clock.now()) + LEASE_MS + 100;
        expect(await catalogue.scrub.acquire("B", later, 60_000)).toBe(true);
        // ...then A is frozen for longer than its lease (no timer runs), and wakes with its stat's answer.
        const until = performance.now() + LEASE_MS + 100;
        while (performance.now() < until);
      }
      return meta;
    },
    async deleteBlob(blobId) {
      deletes.push(blobId);
      return real.deleteBlob(blobId);
    },
  };

  const a = scrubber(catalogue, "A", client);
  await a.step();
  expect(paused).toBe(true);
  expect(deletes).toEqual([]);
  expect(await held()).toBe(3);
  expect((await catalogue.scrub.state()).owner).toBe("B");

  // The sweeper that holds the lease deletes them.
  const b = scrubber(catalogue, "B", real);
  await b.step();
  expect(await held()).toBe(0);
  expect((await catalogue.scrub.state()).totals.orphansDeleted).toBe(3);
});
