import pino from "pino";
import { sleep, waitFor } from "../../../test/support/wait";
import { Catalogue } from "../catalogue/catalogue";
import { CatalogueClock } from "../catalogue/catalogue-clock";
import { LifecycleQueries } from "../catalogue/lifecycle-queries";
import { throwawayCatalogueDatabase } from "../catalogue/testing/throwaway-database";
import type { VersionRow } from "../model/version-row";
import { DuePoller, type DueTransition } from "./due-poller";
import { dueTransitions } from "./due-transitions";
import type { JobContext, RowJob } from "./jobs/job";
import { demote } from "./jobs/demote";
import { trash } from "./jobs/trash";

// The due-row poller on a real catalogue, with a job that only records what it is given and holds
// it until released, so what is moving at once can be looked at.

const db = throwawayCatalogueDatabase();
const log = pino({ level: "silent" });
const TRASH_TTL_MS = 3_600_000;

/** A trash move that marks the row moved and holds its slot until released. */
class HeldMoves {
  readonly started: string[] = [];
  private release!: () => void;
  private readonly released = new Promise<void>((r) => (this.release = r));

  job(): RowJob {
    return {
      ...trash,
      fromRow: async (v: VersionRow | null) => {
        this.started.push(v!.versionId);
        await this.released;
        await db.pool().query("UPDATE versions SET tier = 'trash', gen = gen + 1 WHERE version_id = ?", [v!.versionId]);
        return "moved to the trash";
      },
    };
  }

  releaseAll(): void {
    this.release();
  }
}

/** A started poller of one transition alone (the trash one unless named; its front on `queries`), whose moves HeldMoves holds. */
function heldPoller(
  queries: LifecycleQueries,
  name: string = trash.name,
): { held: HeldMoves; poller: DuePoller; transition: DueTransition } {
  const held = new HeldMoves();
  const ctx = { opts: { hotTtlMs: 60_000 }, catalogue: { clock: new CatalogueClock(db.pool()) } } as unknown as JobContext;
  const transition = { ...dueTransitions(ctx, TRASH_TTL_MS).find((t) => t.name === name)!, job: held.job() };
  const poller = new DuePoller([transition], queries, ctx, { id: "c1", others: () => [], leader: () => "c1" }, log);
  poller.start();
  return { held, poller, transition };
}

/** `n` versions deleted a millisecond apart in id order, read last in the opposite order. */
async function trashOnCold(n: number, prefix: string): Promise<string[]> {
  const [[{ now }]] = (await db.pool().query("SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED) AS now")) as unknown as [
    { now: number }[],
  ];
  const deletedFrom = Number(now) - 30_000; // after the front's start (60 s of deletes back)
  const ids = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(28 - prefix.length, "0")}`);
  const rows = ids.map((id, i) => [
    id,
    "b",
    `k/${id}`,
    4096,
    "0".repeat(64),
    "0".repeat(32),
    "application/octet-stream",
    "trash",
    "cold",
    "backup-1",
    deletedFrom - 86_400_000,
    deletedFrom - 60_000 - i, // the newest delete was read longest ago
    deletedFrom + i,
    deletedFrom + i + TRASH_TTL_MS,
    "deleted",
  ]);
  await db.pool().query(
    `INSERT INTO versions (version_id, bucket, object_key, size, sha256, etag, content_type, state, tier, replicas,
        created_ms, accessed_ms, deleted_ms, purge_ms, reason) VALUES ?`,
    [rows],
  );
  return ids;
}

test("under a backlog of trash moves, the oldest deletes move first: the sweep leaves the rows ahead of the front to it", async () => {
  // More than the poller moves at once (512): the first ones to move show the order.
  const ids = await trashOnCold(1200, "backlog");
  const { held, poller } = heldPoller(new LifecycleQueries(db.pool()));
  try {
    await waitFor("every slot taken", async () => held.started.length >= 512, 30_000);
    // The sweep walks at once and again after its pause (2 s): let it look while every slot is taken.
    await sleep(2500);
    held.releaseAll();
    await waitFor("every row moved", async () => new Set(held.started).size === ids.length, 60_000);
    expect(held.started.length).toBe(ids.length); // none twice
    // In delete order, but for the moves running at once: no move starts while one deleted more
    // than 512 moves earlier still waits.
    const order = new Map(ids.map((id, i) => [id, i]));
    const outOfOrder = held.started.map((id, k) => ({ id, k, deleted: order.get(id)! })).filter((m) => m.deleted >= m.k + 512);
    expect(outOfOrder).toEqual([]);
  } finally {
    held.releaseAll();
    await poller.stop();
  }
});

test("trash moves go on while their old copies cannot be deleted; the deletes left to the catalogue finish later, none left behind", async () => {
  // More rows than the moves in flight (512) and the cleanup backlog (16 here) hold together.
  const ids = await trashOnCold(600, "stalled");
  const copies = new Set(ids.map((id) => `${id}@backup-1`));
  let unstall!: () => void;
  const stalled = new Promise<void>((r) => (unstall = r));
  const copier = {
    copy: async (v: VersionRow, _sources: string[], targets: string[]) => {
      for (const t of targets) copies.add(`${v.versionId}@${t}`);
      return targets;
    },
    remove: async (versionId: string, nodeIds: string[]) => {
      await stalled; // the backup node's deletes hang
      for (const n of nodeIds) copies.delete(`${versionId}@${n}`);
      return [];
    },
  };
  const ctx = {
    catalogue: new Catalogue(db.pool(), 60_000),
    copier,
    nodes: { isLive: () => true, isRemoved: () => false, liveOfKind: () => ({ id: "trash-1" }) },
    scheduler: { add: () => undefined },
    opts: { hotTtlMs: 60_000 },
    log,
  } as unknown as JobContext;
  const transitions = dueTransitions(ctx, TRASH_TTL_MS).filter((t) => t.name === trash.name);
  const poller = new DuePoller(transitions, new LifecycleQueries(db.pool()), ctx, { id: "c1", others: () => [], leader: () => "c1" }, log, {
    cleanupBacklog: 16,
  });
  poller.start();
  try {
    // A move is done at its commit, which lists the old copy as pending: none waits for a delete.
    await waitFor("every trash move done while no delete can finish", async () => poller.status()[0].moved === ids.length, 30_000);
    expect(poller.cleanupsPending()).toBeLessThanOrEqual(16); // the rest wait in the catalogue, not in memory
    unstall();
    await waitFor("every old copy deleted", async () => ![...copies].some((c) => c.endsWith("@backup-1")), 30_000);
    const [rows] = (await db
      .pool()
      .query("SELECT COUNT(*) AS n FROM versions WHERE version_id LIKE 'stalled%' AND (cleanup <> '' OR tier <> 'trash')")) as unknown as [
      { n: number }[],
    ];
    expect(Number(rows[0].n)).toBe(0);
    expect(ids.filter((id) => !copies.has(`${id}@trash-1`))).toEqual([]);
  } finally {
    unstall();
    await poller.stop();
  }
});

test("the moves are logged at info as one line of counts, not a line per version (that one is debug)", async () => {
  const ids = await trashOnCold(20, "reported");
  const lines: { level: number; msg: string; moved?: Record<string, number> }[] = [];
  const info = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const ctx = {
    catalogue: new Catalogue(db.pool(), 60_000),
    copier: { copy: async (_v: VersionRow, _sources: string[], targets: string[]) => targets, remove: async () => [] },
    nodes: { isLive: () => true, isRemoved: () => false, liveOfKind: () => ({ id: "trash-1" }) },
    scheduler: { add: () => undefined },
    opts: { hotTtlMs: 60_000 },
    log: info,
  } as unknown as JobContext;
  const transitions = dueTransitions(ctx, TRASH_TTL_MS).filter((t) => t.name === trash.name);
  const poller = new DuePoller(transitions, new LifecycleQueries(db.pool()), ctx, { id: "c1", others: () => [], leader: () => "c1" }, info);
  poller.start();
  try {
    await waitFor("every trash move done", async () => poller.status()[0].moved === ids.length, 30_000);
  } finally {
    await poller.stop(); // a report at stop: the moves of its last (here its only) stretch
  }
  expect(lines.filter((l) => l.msg === "moved to the trash")).toEqual([]);
  expect(lines.filter((l) => l.msg === "lifecycle moves").map((l) => l.moved)).toEqual([{ [trash.name]: ids.length }]);
});

test("of two coordinators only the leader reads and moves due rows; once it is gone the other takes over, none left behind", async () => {
  const ctx = { opts: { hotTtlMs: 60_000 }, catalogue: { clock: new CatalogueClock(db.pool()) } } as unknown as JobContext;
  let leader = "c1";
  const movedBy = new Map<string, string[]>();
  const pagesRead = new Map<string, number>();
  const poller = (id: string, other: string): DuePoller => {
    const job: RowJob = {
      ...trash,
      fromRow: async (v: VersionRow | null) => {
        movedBy.set(v!.versionId, [...(movedBy.get(v!.versionId) ?? []), id]);
        await db.pool().query("UPDATE versions SET tier = 'trash', gen = gen + 1 WHERE version_id = ?", [v!.versionId]);
        return "moved to the trash";
      },
    };
    const queries = new LifecycleQueries(db.pool());
    const read = queries.duePage.bind(queries);
    queries.duePage = (...args) => {
      pagesRead.set(id, (pagesRead.get(id) ?? 0) + 1);
      return read(...args);
    };
    const transition = { ...dueTransitions(ctx, TRASH_TTL_MS).find((t) => t.name === trash.name)!, job };
    return new DuePoller([transition], queries, ctx, { id, others: () => [other], leader: () => leader }, log);
  };
  const first = await trashOnCold(300, "leader1");
  const c1 = poller("c1", "c2");
  const c2 = poller("c2", "c1");
  c1.start();
  c2.start();
  try {
    await waitFor("the leader moved every row", async () => first.every((id) => movedBy.has(id)), 30_000);
    await sleep(1000); // the standby's looks and sweeps, had it any
    expect(first.filter((id) => movedBy.get(id)!.join() !== "c1")).toEqual([]);
    expect(pagesRead.get("c2") ?? 0).toBe(0);
    // c1 dies (its loops stop as a SIGKILL would stop them); the presence then shows c2 as leader.
    await c1.stop();
    const second = await trashOnCold(300, "leader2");
    leader = "c2";
    await waitFor("the other moved what came due after", async () => second.every((id) => movedBy.has(id)), 30_000);
    expect(second.filter((id) => movedBy.get(id)!.join() !== "c2")).toEqual([]);
  } finally {
    await c1.stop();
    await c2.stop();
  }
});

/** The pages the transition's front reads in `ms` while woken every 5 ms (as deletes wake the trash front). */
async function pagesWhileWoken(name: string, ms: number): Promise<number> {
  const reads: { scan: DueTransition["front"]; at: number }[] = [];
  class CountingQueries extends LifecycleQueries {
    override duePage(...args: Parameters<LifecycleQueries["duePage"]>): Promise<VersionRow[]> {
      reads.push({ scan: args[0], at: performance.now() });
      return super.duePage(...args);
    }
  }
  const { held, poller, transition } = heldPoller(new CountingQueries(db.pool()), name);
  const pages = () => reads.filter((r) => r.scan === transition.front).map((r) => r.at);
  try {
    await waitFor("the front's first page", async () => pages().length > 0, 10_000);
    await sleep(300);
    const from = performance.now();
    while (performance.now() - from < ms) {
      poller.wake(name);
      await sleep(5);
    }
    return pages().filter((t) => t >= from && t < from + ms).length;
  } finally {
    held.releaseAll();
    await poller.stop();
  }
}

test("deletes waking the trash front again and again make a few large pages a second, not one per delete", async () => {
  // Each pass reads the last second of deletes again (the lookback) and its moves batch together:
  // at 20 passes a second the overwrite row paid 0.19-0.26 commits and 1.3-1.9 statements per
  // request in MariaDB, at 5 a second 0.10-0.16 and 0.9-1.2 (bench/README.md, 2026-12-03 07:27).
  const read = await pagesWhileWoken(trash.name, 1000);
  expect(read).toBeGreaterThanOrEqual(1); // woken, it looks
  expect(read).toBeLessThanOrEqual(7); // 50 ms apart at least before: 15-20
});

test("a front whose rows come due by a column keeps looking as soon as it is woken: demotions are not held 200 ms a pass", async () => {
  // The trash front's 200 ms between passes, applied to every front, made demotions p50 250 ms,
  // p99 1,450 ms late in the whole bench's lifecycle row, against 70 / 250 (2026-12-03).
  const read = await pagesWhileWoken(demote.name, 2000);
  expect(read).toBeGreaterThanOrEqual(14); // 50 ms apart: up to 40; 200 ms apart: at most 11
});
