import type { RowDataPacket } from "mysql2/promise";
import pino from "pino";
import { ErrorCode, MiniS3Error } from "../../../common/errors";
import { newVersionId } from "../../../common/ids";
import { Catalogue } from "../../catalogue/catalogue";
import { throwawayCatalogueDatabase } from "../../catalogue/testing/throwaway-database";
import type { VersionRow } from "../../model/version-row";
import { undelete } from "../undelete";
import { cleanup } from "./cleanup";
import type { JobContext } from "./job";
import { purge } from "./purge";
import { trash } from "./trash";

// The lifecycle jobs against a real catalogue, with nodes faked as a set of copies, so a test can
// decide exactly when a copy is written or deleted relative to the catalogue's commits.

const db = throwawayCatalogueDatabase();

/** The copies that exist (one version here): node ids. */
class FakeNodes {
  readonly copies = new Set<string>();
  /** Runs inside the next delete of `node`, before the copy goes. */
  beforeDelete?: { node: string; run: () => Promise<void> };
  /** Nodes whose deletes fail. */
  readonly unreachable = new Set<string>();

  async copy(_v: VersionRow, _sources: string[], targets: string[]): Promise<string[]> {
    for (const t of targets) this.copies.add(t);
    return targets;
  }

  async remove(_versionId: string, ids: string[]): Promise<string[]> {
    const hook = this.beforeDelete;
    if (hook && ids.includes(hook.node)) {
      this.beforeDelete = undefined;
      await hook.run();
    }
    const failed = ids.filter((id) => this.unreachable.has(id));
    for (const id of ids) if (!failed.includes(id)) this.copies.delete(id);
    return failed;
  }
}

function context(catalogue: Catalogue, nodes: FakeNodes): JobContext {
  return {
    catalogue,
    copier: { copy: nodes.copy.bind(nodes), remove: nodes.remove.bind(nodes) },
    nodes: {
      isLive: () => true,
      isRemoved: () => false,
      liveOfKind: () => ({ id: "t1" }),
      asNodesReturn: (attempt: (tried: number) => unknown) => attempt(0),
    },
    placement: { targets: () => ["s1", "s2"] },
    scheduler: { add: () => undefined, retryFailed: async () => undefined },
    opts: { hotTtlMs: 60_000, repairAfterMs: 60_000, replicas: 2, writeQuorum: 1, reconcileIntervalMs: 1000 },
    log: pino({ level: "silent" }),
  } as unknown as JobContext;
}

describe("lifecycle races against a real catalogue (issue 12 item 6)", () => {
  it("a cleanup never deletes a copy that a re-delete's trash move made live meanwhile (review finding 14)", async () => {
    const catalogue = new Catalogue(db.pool(), 60_000);
    const nodes = new FakeNodes();
    const ctx = context(catalogue, nodes);
    const v = { versionId: newVersionId(), bucket: `races-${process.pid}`, key: "k", size: 1, sha256: "a".repeat(64) };
    await catalogue.commit({ ...v, etag: "b".repeat(32), contentType: "x", metadata: {}, replicas: ["s1", "s2"], createdMs: Date.now() });
    ["s1", "s2"].forEach((n) => nodes.copies.add(n));

    // Deleted, moved to the trash node t1, undeleted back to s1 and s2 while t1 did not answer: the
    // catalogue lists t1's copy as left over.
    await catalogue.markDeleted(v.bucket, v.key);
    expect(await trash.process({ versionId: v.versionId }, ctx)).toBe("moved to the trash");
    nodes.unreachable.add("t1");
    await undelete(ctx, v.bucket, v.key);
    nodes.unreachable.delete("t1");
    expect(await catalogue.version(v.versionId)).toMatchObject({ state: "live", replicas: ["s1", "s2"], cleanup: ["t1"] });

    // The cleanup job is about to delete t1's copy when the key is deleted again and its trash move
    // writes t1 again and commits.
    let redelete: Promise<unknown> = Promise.resolve();
    nodes.beforeDelete = {
      node: "t1",
      run: async () => {
        redelete = (async () => {
          await catalogue.markDeleted(v.bucket, v.key);
          return trash.process({ versionId: v.versionId }, ctx);
        })();
        await new Promise((r) => setTimeout(r, 300));
      },
    };
    await cleanup.process({ versionId: v.versionId }, ctx);
    await redelete;

    const row = (await catalogue.version(v.versionId))!;
    expect(row).toMatchObject({ state: "trash", tier: "trash", replicas: ["t1"] });
    // Every copy the catalogue names exists.
    expect(row.replicas.filter((n) => !nodes.copies.has(n))).toEqual([]);
  });

  it("an undelete that restored its version answers it, even when the delete of its trash copy then fails (MariaDB away a moment)", async () => {
    const catalogue = new Catalogue(db.pool(), 60_000);
    const nodes = new FakeNodes();
    const queued: string[] = [];
    const ctx = {
      ...context(catalogue, nodes),
      scheduler: { add: (queue: string) => void queued.push(queue), retryFailed: async () => undefined },
    } as JobContext;
    const v = { versionId: newVersionId(), bucket: `races-${process.pid}`, key: "undelete-answer", size: 1, sha256: "a".repeat(64) };
    await catalogue.commit({ ...v, etag: "b".repeat(32), contentType: "x", metadata: {}, replicas: ["s1", "s2"], createdMs: Date.now() });
    ["s1", "s2"].forEach((n) => nodes.copies.add(n));
    await catalogue.markDeleted(v.bucket, v.key);
    expect(await trash.process({ versionId: v.versionId }, ctx)).toBe("moved to the trash");

    // The restore commits; the cleanup of t1's copy that follows finds MariaDB away.
    jest.spyOn(catalogue, "cleanCopies").mockRejectedValueOnce(new MiniS3Error(ErrorCode.CatalogueUnavailable, "catalogue unavailable"));
    // Answered as a failure, the client's retry would restore the version deleted before this one
    // (or answer that there is nothing to undelete) and send this one back to the trash.
    await expect(undelete(ctx, v.bucket, v.key)).resolves.toMatchObject({ versionId: v.versionId });
    expect(await catalogue.version(v.versionId)).toMatchObject({ state: "live", replicas: ["s1", "s2"], cleanup: ["t1"] });
    expect(queued).toContain(cleanup.name); // t1's copy is the cleanup job's
  });

  it("a purge never begins before the version's purge time on MariaDB's clock, whatever this coordinator's reading of it", async () => {
    // The purge runs when MariaDB says the version is still restorable for about ahead/2.
    const { catalogue, nodes, ctx, trashed } = await trashedJustBeforePurge("purge-clock");
    const outcome = await purge.fromRow(trashed, ctx);
    const at = await dbNow();
    expect(at).toBeLessThan(trashed.purgeMs!); // still restorable on MariaDB's clock when the purge answered

    expect(outcome).toBe("not due");
    expect(await catalogue.version(trashed.versionId)).toMatchObject({ state: "trash", replicas: ["s1", "s2"] });
    expect([...nodes.copies].sort()).toEqual(["s1", "s2"]);
    // And a restore (which checks MariaDB's clock) still brings it back.
    expect(await catalogue.restore(trashed, trashed.replicas, [], at)).toMatchObject({ restored: true });
  });

  it("an undelete finds a version restorable until its purge time on MariaDB's clock, whatever this coordinator's reading of it", async () => {
    const { catalogue, ctx, trashed } = await trashedJustBeforePurge("undelete-clock");
    const undeleted = undelete(ctx, trashed.bucket, trashed.key);
    await undeleted.catch(() => undefined);
    expect(await dbNow()).toBeLessThan(trashed.purgeMs!); // restorable on MariaDB's clock all along

    await expect(undeleted).resolves.toMatchObject({ versionId: trashed.versionId });
    expect(await catalogue.version(trashed.versionId)).toMatchObject({ state: "live", replicas: ["s1", "s2"] });
  });
});

async function dbNow(): Promise<number> {
  const [rows] = await db.pool().query<RowDataPacket[]>("SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED) AS ms");
  return Number(rows[0].ms);
}

/**
 * A version on s1 and s2, deleted (trash TTL 2 s), through a catalogue whose reading of MariaDB's
 * clock runs 400 ms ahead: as it did when read while every pooled connection was busy (cleanups hold
 * theirs while the nodes delete), the middle of the round trip taken as the moment MariaDB read its
 * clock (catalogue-clock.ts, until 2026-12-07). Answers once MariaDB's clock is half that lead short
 * of the version's purge time.
 */
async function trashedJustBeforePurge(
  key: string,
): Promise<{ catalogue: Catalogue; nodes: FakeNodes; ctx: JobContext; trashed: VersionRow }> {
  const pool = db.pool();
  const catalogue = new Catalogue(pool, 2000);
  const ahead = 400;
  const read = catalogue.clock.now.bind(catalogue.clock);
  jest.spyOn(catalogue.clock, "now").mockImplementation(async () => (await read()) + ahead);

  const nodes = new FakeNodes();
  const v = { versionId: newVersionId(), bucket: `races-${process.pid}`, key, size: 1, sha256: "a".repeat(64) };
  await catalogue.commit({ ...v, etag: "b".repeat(32), contentType: "x", metadata: {}, replicas: ["s1", "s2"], createdMs: Date.now() });
  ["s1", "s2"].forEach((n) => nodes.copies.add(n));
  const trashed = (await catalogue.markDeleted(v.bucket, v.key))!;
  while ((await dbNow()) < trashed.purgeMs! - ahead / 2) await new Promise((r) => setTimeout(r, 10));
  return { catalogue, nodes, ctx: context(catalogue, nodes), trashed };
}
