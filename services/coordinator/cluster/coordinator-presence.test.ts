import pino from "pino";
import { ErrorCode } from "../../common/errors";
import { coordinatorId, CoordinatorPresence, type PresenceClock } from "./coordinator-presence";

// Two coordinators on one fake `coordinators` table, on jest's fake clock: A caches only while it
// takes itself for alone, B writes only through its fence. Whatever B's heartbeats do, no write B
// was let through may land while A is in a stretch of being alone that began before it landed.

const INTERVAL = 100;
const DOWN_AFTER = 500; // the lease, and the longest a write may take

/** ok; refused at once; never answered; or reaching the table (and answered) only after LATE_MS. */
type Mode = "ok" | "refused" | "hung" | "late";
const LATE_MS = 700;

interface Row {
  state: string;
  beat: number;
  /** started_at, as the SELECT reads it (ms). */
  started: number;
}

/** The coordinators table, and per coordinator whether its heartbeats reach it. */
class FakeTable {
  readonly rows = new Map<string, Row>();
  readonly modes = new Map<string, Mode>();

  pool(self: string) {
    return {
      query: async (sql: string, params: unknown[]) => {
        const mode = this.modes.get(self) ?? "ok";
        if (mode === "refused") throw new Error("connection refused");
        if (mode === "hung") return new Promise<never>(() => undefined);
        if (mode === "late") await new Promise((r) => setTimeout(r, LATE_MS));
        const id = params[0] as string;
        if (sql.startsWith("INSERT INTO coordinators")) {
          const r = this.rows.get(id);
          if (r) r.beat++;
          else this.rows.set(id, { state: "up", beat: 1, started: Date.now() });
          return [[{ affectedRows: 1 }, [...this.rows].map(([k, v]) => ({ id: k, ...v }))]];
        }
        if (sql.startsWith("UPDATE coordinators SET state = 'stopped'")) {
          const r = this.rows.get(id)!;
          r.state = "stopped";
          r.beat++;
          return [{ affectedRows: 1 }];
        }
        if (sql.startsWith("DELETE FROM coordinators")) {
          if (this.rows.get(id)?.beat === params[1]) this.rows.delete(id);
          return [{ affectedRows: 1 }];
        }
        throw new Error(`unexpected SQL: ${sql}`);
      },
    } as never;
  }
}

const clock: PresenceClock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
const log = pino({ level: "silent" });

let table: FakeTable;
let started: CoordinatorPresence[];

beforeEach(() => {
  jest.useFakeTimers();
  table = new FakeTable();
  started = [];
});
afterEach(async () => {
  table.modes.clear();
  for (const p of started) await p.leave().catch(() => undefined);
  jest.useRealTimers();
});

async function coordinator(name: string): Promise<CoordinatorPresence> {
  const p = new CoordinatorPresence(table.pool(name), name, INTERVAL, DOWN_AFTER, log, undefined, clock);
  const done = p.start();
  await jest.advanceTimersByTimeAsync(3 * INTERVAL);
  await done;
  started.push(p);
  return p;
}

/**
 * Runs for `ms` in steps of 10: B tries a write each step, A's stretches are noted: when B's
 * writes were let through, and when each of A's stretches was seen first and last.
 */
async function run(a: CoordinatorPresence, b: CoordinatorPresence, ms: number, log: Trace): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    const now = Date.now();
    try {
      log.admitted.push(b.admit());
    } catch (e) {
      expect(e).toMatchObject({ code: ErrorCode.CatalogueUnavailable });
      log.refused++;
    }
    if (b.writableStretch() !== undefined) log.writable.push(now);
    const s = a.aloneStretch();
    if (s !== undefined) {
      const seen = log.stretches.get(s);
      log.stretches.set(s, { first: seen?.first ?? now, last: now });
    }
    await jest.advanceTimersByTimeAsync(10);
  }
}

interface Trace {
  /** When B's fence let a write through: it lands at any time up to commitMs later. */
  admitted: number[];
  refused: number;
  /** When B's read cache could serve (writableStretch): never while A is alone, as A then tells no one of its changes. */
  writable: number[];
  stretches: Map<number, { first: number; last: number }>;
}

const trace = (): Trace => ({ admitted: [], refused: 0, writable: [], stretches: new Map() });

/** Every B write that A's cache could have missed: it may land while A is in a stretch that began before. */
function missed(t: Trace, commitMs: number): string[] {
  const out: string[] = [];
  for (const w of t.admitted) {
    for (const [s, { first, last }] of t.stretches) {
      if (w <= last && w + commitMs > first) out.push(`write let through at ${w} may land in stretch ${s} (${first}..${last})`);
    }
  }
  for (const w of t.writable) {
    for (const [s, { first, last }] of t.stretches) {
      if (w >= first && w <= last) out.push(`B could serve from its cache at ${w}, in A's stretch ${s} (${first}..${last})`);
    }
  }
  return out;
}

test.each<[string, Mode]>([
  ["are refused", "refused"],
  ["hang (and do not hold up the next ones)", "hung"],
])("B's heartbeats %s while it keeps writing: A caches only after every write B let through has landed", async (_, mode) => {
  const b = await coordinator("b");
  const a = await coordinator("a");
  const t = trace();
  await run(a, b, 500, t);
  expect(a.aloneStretch()).toBeUndefined(); // B is live
  const before = t.admitted.length;

  table.modes.set("b", mode); // B is cut off from the coordinators row, not from its writes
  await run(a, b, 3000, t);
  expect(t.refused).toBeGreaterThan(0); // B's lease ran out
  expect(t.admitted.length).toBeGreaterThan(before); // B wrote while it could not heartbeat
  expect(t.stretches.size).toBeGreaterThan(0); // and A took B for gone
  expect(missed(t, b.commitMs)).toEqual([]);

  // B's heartbeats come back: it re-joins, and writes only once A has stopped caching.
  table.modes.set("b", "ok");
  const refusedBefore = t.refused;
  await run(a, b, 1000, t);
  expect(t.refused).toBeGreaterThan(refusedBefore);
  expect(a.aloneStretch()).toBeUndefined();
  expect(missed(t, b.commitMs)).toEqual([]);
  expect(b.admit()).toBe(Date.now());
});

test("a write that finds the lease lapsed re-joins at once: admitted as soon as its heartbeat lands, not at the next timed one", async () => {
  const b = await coordinator("b");
  table.modes.set("b", "refused"); // MariaDB away for longer than the lease
  await jest.advanceTimersByTimeAsync(DOWN_AFTER + INTERVAL);
  expect(() => b.admit()).toThrow(expect.objectContaining({ code: ErrorCode.CatalogueUnavailable }));

  table.modes.set("b", "ok"); // back, between two timed heartbeats
  await jest.advanceTimersByTimeAsync(INTERVAL / 2);
  expect(() => b.admit()).toThrow(expect.objectContaining({ code: ErrorCode.CatalogueUnavailable }));
  let ready = false;
  const waits = [b.writable(), b.writable()].map((w) => w.then(() => (ready = true)));
  await jest.advanceTimersByTimeAsync(0); // no timer: only the beat the writes asked for
  await Promise.all(waits);
  expect(ready).toBe(true);
  expect(b.admit()).toBe(Date.now());
  expect(table.rows.get("b")!.beat).toBeGreaterThan(0);
});

test("a write re-joining while another coordinator is up waits until that one has seen it; the fence's rule holds", async () => {
  const b = await coordinator("b");
  const a = await coordinator("a");
  const t = trace();
  table.modes.set("b", "refused");
  await run(a, b, DOWN_AFTER * 3, t);
  expect(t.stretches.size).toBeGreaterThan(0); // A took B for gone and cached

  table.modes.set("b", "ok");
  const start = Date.now();
  let admittedAt = 0;
  const write = b.writable().then(() => (admittedAt = b.admit()));
  await run(a, b, 5 * INTERVAL, t);
  await write;
  expect(admittedAt - start).toBeGreaterThanOrEqual(2 * INTERVAL); // the others' two looks
  expect(admittedAt - start).toBeLessThan(4 * INTERVAL);
  t.admitted.push(admittedAt);
  expect(missed(t, b.commitMs)).toEqual([]);
});

test("a write waiting for a re-join whose heartbeat hangs is refused after the lease, not held longer", async () => {
  const b = await coordinator("b");
  table.modes.set("b", "hung"); // MariaDB accepts connections but answers nothing
  await jest.advanceTimersByTimeAsync(DOWN_AFTER + INTERVAL);
  let done = false;
  const w = b.writable().then(() => (done = true));
  await jest.advanceTimersByTimeAsync(DOWN_AFTER - 1);
  expect(done).toBe(false);
  await jest.advanceTimersByTimeAsync(1);
  await w;
  expect(() => b.admit()).toThrow(expect.objectContaining({ code: ErrorCode.CatalogueUnavailable }));
});

test("heartbeats that land late do not keep the lease: a peer may have judged B gone before they landed", async () => {
  const b = await coordinator("b");
  const a = await coordinator("a");
  const t = trace();
  table.modes.set("b", "late");
  await run(a, b, 3000, t);
  expect(t.refused).toBeGreaterThan(0);
  expect(missed(t, b.commitMs)).toEqual([]);
});

test("a newcomer writes only once the coordinator that was caching has seen it", async () => {
  const a = await coordinator("a");
  expect(a.aloneStretch()).toBeDefined();
  const b = new CoordinatorPresence(table.pool("b"), "b", INTERVAL, DOWN_AFTER, log, undefined, clock);
  const t = trace();
  const joined = b.start();
  await run(a, b, 600, t);
  await joined;
  started.push(b);
  expect(t.admitted.length).toBeGreaterThan(0);
  expect(missed(t, b.commitMs)).toEqual([]);
  expect(a.aloneStretch()).toBeUndefined();
});

test("a coordinator that leaves: no write after, and the other caches again once its last writes have landed", async () => {
  const b = await coordinator("b");
  const a = await coordinator("a");
  const t = trace();
  await run(a, b, 300, t);
  await b.leave();
  const leftAt = Date.now();
  expect(() => b.admit()).toThrow(expect.objectContaining({ code: ErrorCode.CatalogueUnavailable }));
  await run(a, b, 1000, t);
  expect(missed(t, b.commitMs)).toEqual([]);
  const first = Math.min(...[...t.stretches.values()].map((s) => s.first));
  expect(first).toBeGreaterThanOrEqual(leftAt + b.commitMs);
  expect(a.aloneStretch()).toBeDefined();
});

test("a coordinator's row that another one removed proves nothing: it is live until its beat has been still long enough", async () => {
  const b = await coordinator("b");
  const a = await coordinator("a");
  table.rows.delete("b");
  table.modes.set("b", "refused");
  await jest.advanceTimersByTimeAsync(b.leaseMs + b.commitMs - 2 * INTERVAL);
  expect(a.aloneStretch()).toBeUndefined();
  await jest.advanceTimersByTimeAsync(3 * INTERVAL);
  expect(a.aloneStretch()).toBeDefined();
  void b;
});

test("the oldest live coordinator leads: a newcomer does not take the role, the next oldest does once the leader is gone", async () => {
  const b = await coordinator("b");
  const a = await coordinator("a"); // a lower id, but younger
  expect([a.leader(), b.leader()]).toEqual(["b", "b"]);
  const c = await coordinator("c");
  expect([a.leader(), b.leader(), c.leader()]).toEqual(["b", "b", "b"]);
  table.modes.set("b", "hung"); // b stalls: its beat stops changing
  await jest.advanceTimersByTimeAsync(b.leaseMs + b.commitMs - 2 * INTERVAL);
  expect([a.leader(), c.leader()]).toEqual(["b", "b"]); // not yet gone
  await jest.advanceTimersByTimeAsync(3 * INTERVAL);
  expect([a.leader(), c.leader()]).toEqual(["a", "a"]);
});

test("two processes with the same host and port have different ids", () => {
  expect(coordinatorId(50051)).not.toBe(coordinatorId(50051));
  expect(coordinatorId(50051)).toMatch(/:50051\//);
});
