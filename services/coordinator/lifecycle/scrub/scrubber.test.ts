import { randomBytes } from "node:crypto";
import type { Pool } from "mysql2/promise";
import pino from "pino";
import type { DataSource } from "typeorm";
import { openDataSource, sqlPool } from "../../../common/db/datasource";
import { newVersionId } from "../../../common/ids";
import type { BlobMeta, BlobVerdict, BlobVerification } from "../../../rpc/blob-backend";
import { Catalogue, type NewVersion } from "../../catalogue/catalogue";
import { CATALOGUE_MIGRATIONS } from "../../catalogue/catalogue-schema";
import { CreateScrubState1732500000400 } from "../../catalogue/scrub-schema";
import { OrphanSweep, type SweptNode } from "./orphan-sweep";
import { Scrubber, type ScrubberOptions } from "./scrubber";

// The scrubber's walk, lease, findings and orphan sweep against the real MariaDB (a database of
// its own per test: the scrubber's state is one row), with nodes played in memory.

const log = pino({ level: "silent" });
let ds: DataSource;
let pool: Pool;
let dbName: string;
let catalogue: Catalogue;

beforeEach(async () => {
  dbName = `minis3_t_${randomBytes(6).toString("hex")}`;
  ds = await openDataSource({
    url: `mysql://root@127.0.0.1:3306/${dbName}`,
    migrations: [...CATALOGUE_MIGRATIONS, CreateScrubState1732500000400],
    poolSize: 4,
    multipleStatements: true,
  });
  pool = sqlPool(ds);
  catalogue = new Catalogue(pool, 60_000);
});

afterEach(async () => {
  try {
    await ds.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
  } finally {
    await ds.destroy();
  }
});

async function commit(replicas: string[], size = 1000): Promise<string> {
  const v: NewVersion = {
    versionId: newVersionId(),
    bucket: "b",
    key: `k-${randomBytes(6).toString("hex")}`,
    size,
    sha256: "a".repeat(64),
    etag: "b".repeat(32),
    contentType: "application/octet-stream",
    metadata: {},
    replicas,
    createdMs: Date.now(),
  };
  await catalogue.commit(v);
  return v.versionId;
}

/** Demotes a version in the catalogue alone (its copies are played by the test). */
async function toCold(versionId: string, oldCopies: string[]): Promise<boolean> {
  const v = (await catalogue.version(versionId))!;
  return catalogue.moveTier(versionId, { state: "live", tier: "hot", gen: v.gen }, { tier: "cold", replicas: ["b1"] }, oldCopies);
}

interface Harness {
  scrubber: Scrubber;
  checked: string[];
  repairs: string[];
}

type Verify = (node: string, blob: string) => Promise<BlobVerdict | BlobVerification>;

function scrubber(over: Partial<ScrubberOptions> = {}, verify: Verify = async () => "ok"): Harness {
  const h: Harness = { checked: [], repairs: [], scrubber: undefined as unknown as Scrubber };
  h.scrubber = new Scrubber(
    {
      catalogue,
      nodes: { isLive: () => true, failed: () => undefined },
      verify: async (node, blob) => {
        h.checked.push(`${node}/${blob}`);
        const r = await verify(node, blob);
        return typeof r === "string" ? { verdict: r } : r;
      },
      sweptNodes: () => [],
      sweptClient: () => {
        throw new Error("no nodes to sweep here");
      },
      repair: (id) => void h.repairs.push(id),
      log,
    },
    { bytesPerSecond: 1e12, orphanGraceMs: 3_600_000, replicas: 2, owner: `c-${randomBytes(3).toString("hex")}`, pageSize: 10, ...over },
  );
  return h;
}

/** Steps until the pass has ended (the step that ends it asks for the pause between passes). */
async function untilPassEnds(s: Scrubber, maxSteps = 50): Promise<void> {
  for (let i = 0; i < maxSteps; i++) if ((await s.step()) === 4242) return;
  throw new Error("the pass did not end");
}

describe("scrubber", () => {
  test("checks every copy of every version once per pass, in pages; a restart goes on from the stored cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push(await commit(["s1", "s2"]));
    const a = scrubber({ leaseMs: 300, passPauseMs: 4242 });
    await a.scrubber.step(); // the first step of a scrubber is its orphan sweep
    await a.scrubber.step(); // versions 1-10
    await a.scrubber.step(); // 11-20
    expect(a.checked).toHaveLength(40);
    expect((await catalogue.scrub.state()).pass.versions).toBe(20);

    // A crashes (no release); B takes over once A's lease has run out and starts at version 21.
    const b = scrubber({ leaseMs: 300, passPauseMs: 4242 });
    await new Promise((r) => setTimeout(r, 400));
    await untilPassEnds(b.scrubber);
    const all = [...a.checked, ...b.checked].sort();
    expect(all).toEqual(ids.flatMap((id) => [`s1/${id}`, `s2/${id}`]).sort());

    const s = await catalogue.scrub.state();
    expect(s.passes).toBe(1);
    expect(s.lastPassEndedAtMs).not.toBeNull();
    expect(s.totals.versions).toBe(25);
    expect(s.totals.bytes).toBe(25 * 2 * 1000);
    expect(s.pass.versions).toBe(0); // the next pass starts from the beginning
    expect(s.cursor).toBe("");
    expect(b.repairs).toEqual([]);
  });

  test("only the coordinator holding the lease scrubs; a clean stop hands it over at once", async () => {
    for (let i = 0; i < 3; i++) await commit(["s1", "s2"]);
    const a = scrubber({ passPauseMs: 4242 });
    const b = scrubber({ passPauseMs: 4242 });
    await untilPassEnds(a.scrubber);
    for (let i = 0; i < 3; i++) await b.scrubber.step();
    expect(b.checked).toEqual([]);
    await a.scrubber.stop();
    await untilPassEnds(b.scrubber);
    expect(b.checked).toHaveLength(6);
  });

  test("a bad copy of a live hot version queues its repair (also one whose bytes are not the catalogue's); a short version too; a cold version's is reported only", async () => {
    const bad = await commit(["s1", "s2"]);
    const short = await commit(["s1"]);
    const cold = await commit(["s1", "s2"]);
    expect(await toCold(cold, ["s1", "s2"])).toBe(true);
    const moving = await commit(["s1", "s2"]);
    const other = await commit(["s1", "s2"]); // s1 holds bytes that match what it stored, not the catalogue's sha256
    const purging = await commit(["s1", "s2"]); // its copies are being deleted: not checked
    await pool.query("UPDATE versions SET state = 'purging' WHERE version_id = ?", [purging]);
    const verdicts: Record<string, BlobVerdict> = { [`s1/${bad}`]: "corrupt", [`s2/${bad}`]: "missing", [`b1/${cold}`]: "corrupt" };
    const h = scrubber({ passPauseMs: 4242 }, async (node, blob) => {
      if (blob === moving) {
        // Demoted between the page and the check: its hot copies are gone, and that is no finding.
        await toCold(moving, ["s1", "s2"]);
        return "missing";
      }
      if (blob === purging) return "missing";
      if (node === "s1" && blob === other)
        return { verdict: "ok", meta: { blobId: other, size: 1000, sha256: Buffer.alloc(32, 0xbb), storedAtMs: 1, attributes: {} } };
      return verdicts[`${node}/${blob}`] ?? "ok";
    });
    await untilPassEnds(h.scrubber);
    expect(h.repairs.sort()).toEqual([bad, short, other].sort()); // one repair for bad, whatever its two copies said
    const t = (await catalogue.scrub.state()).totals;
    expect(t).toMatchObject({ versions: 5, corrupt: 3, missing: 1, repairsQueued: 3 });
    expect(h.checked.filter((c) => c.endsWith(purging))).toEqual([]);
  });

  test("copies on a node that is down or does not answer are counted unreachable, not bad", async () => {
    await commit(["s1", "s2"]);
    const h = scrubber({ passPauseMs: 4242 }, async (node) => {
      if (node === "s2") throw new Error("connection refused");
      return "ok";
    });
    await untilPassEnds(h.scrubber);
    expect(h.repairs).toEqual([]);
    expect((await catalogue.scrub.state()).totals).toMatchObject({ versions: 1, unreachable: 1, corrupt: 0, missing: 0 });
  });

  test("reads are paced to the rate: 1 MB of copies at 2 MB/s takes at least half a second", async () => {
    for (let i = 0; i < 5; i++) await commit(["s1", "s2"], 100_000);
    const h = scrubber({ bytesPerSecond: 2_000_000, passPauseMs: 4242 });
    const started = performance.now();
    await untilPassEnds(h.scrubber);
    // The last read reserves its share after it starts: the wait covers the other 900 kB.
    expect(performance.now() - started).toBeGreaterThanOrEqual(450);
    expect(h.checked).toHaveLength(10);
  });
});

class MemoryNode implements SweptNode {
  readonly blobs = new Map<string, BlobMeta>();
  put(blobId: string, storedAtMs: number): void {
    this.blobs.set(blobId, { blobId, size: 10, sha256: Buffer.alloc(32), storedAtMs, attributes: {} });
  }
  async *listBlobs(): AsyncIterable<BlobMeta> {
    yield* [...this.blobs.values()];
  }
  async statBlob(id: string): Promise<BlobMeta | null> {
    return this.blobs.get(id) ?? null;
  }
  async deleteBlob(id: string): Promise<boolean> {
    return this.blobs.delete(id);
  }
}

describe("orphan sweep", () => {
  test("deletes a copy no row names on its node only once it has been seen so for the grace; never a named one", async () => {
    const s1 = new MemoryNode();
    const hot = await commit(["s1", "s2"]); // named on s1
    const left = await commit(["s1", "s2"]);
    await toCold(left, ["s1"]); // s1 in cleanup: named
    const elsewhere = await commit(["s2", "s3"]); // a row, but not for s1: an orphan on s1
    const noRow = newVersionId(); // no row at all
    const rewritten = newVersionId();
    for (const id of [hot, left, elsewhere, noRow, rewritten]) s1.put(id, 1000);

    let now = 0;
    const sweep = new OrphanSweep(
      { nodes: () => ["s1"], client: () => s1, named: (ids) => catalogue.scrub.namedNodes(ids), log },
      60_000,
      () => now,
    );
    expect(await sweep.sweep()).toBe(0); // first sighting
    now = 59_999;
    expect(await sweep.sweep()).toBe(0); // not yet a grace
    s1.put(rewritten, 2000); // written again (a new incarnation): its grace starts over
    now = 60_000;
    expect(await sweep.sweep()).toBe(2);
    expect([...s1.blobs.keys()].sort()).toEqual([hot, left, rewritten].sort());
    now = 119_999;
    expect(await sweep.sweep()).toBe(0);
    now = 120_000;
    expect(await sweep.sweep()).toBe(1);
    expect([...s1.blobs.keys()].sort()).toEqual([hot, left].sort());
  });

  test("a row that names the copy by the time of the delete saves it, even past the grace", async () => {
    const s1 = new MemoryNode();
    const late = await commit(["s2", "s3"], 1000); // its commit naming s1 is about to land
    const orphan = await commit(["s2", "s3"], 1000); // the control: really no row's on s1
    s1.put(late, 1000);
    s1.put(orphan, 1000);
    let now = 0;
    let lookups = 0;
    const sweep = new OrphanSweep(
      {
        nodes: () => ["s1"],
        client: () => s1,
        named: async (ids) => {
          // The third look-up is the one right before the deletes: the commit lands just before it.
          if (++lookups === 3) await pool.query("UPDATE versions SET replicas = 's1,s2' WHERE version_id = ?", [late]);
          return catalogue.scrub.namedNodes(ids);
        },
        log,
      },
      1000,
      () => now,
    );
    expect(await sweep.sweep()).toBe(0);
    now = 5000;
    expect(await sweep.sweep()).toBe(1);
    expect([...s1.blobs.keys()]).toEqual([late]);
  });
});
