import { BURST_CONNECTIONS, BUSY_ELU, ConnectionPlacement, STALE_MS } from "./connection-placement";

// Which worker of a coordinator group takes a new connection: the first ready one with room (its
// batches stay large), another only when it has none.

function placement(opts: { busyElu?: number; burstConnections?: number } = {}) {
  let now = 1_000_000;
  const p = new ConnectionPlacement<string>({ now: () => now, ...opts });
  return { p, advance: (ms: number) => (now += ms) };
}

/** w1 then w2 ready, each reported at the given utilization. */
function twoReporting(elu1: number, elu2: number, opts: { busyElu?: number; burstConnections?: number } = {}) {
  const t = placement(opts);
  t.p.add("w1");
  t.p.add("w2");
  t.p.report("w1", elu1);
  t.p.report("w2", elu2);
  return t;
}

const pickMany = (p: ConnectionPlacement<string>, n: number) => Array.from({ length: n }, () => p.pick());
const count = (picks: (string | undefined)[]) => {
  const c: Record<string, number> = {};
  for (const w of picks) c[String(w)] = (c[String(w)] ?? 0) + 1;
  return c;
};

test("connections stay on the first ready worker while it has room, in the order workers became ready", () => {
  const { p, advance } = placement();
  expect(p.pick()).toBeUndefined(); // none ready: the caller holds the connection
  p.add("w1");
  p.add("w2");
  // Reported below the threshold: all to w1, in several report windows.
  for (let round = 0; round < 5; round++) {
    advance(1_000);
    p.report("w1", BUSY_ELU - 0.05); // busy, as a worker saturating on its own is (0.85-0.98)
    p.report("w2", 0);
    expect(count(pickMany(p, 10))).toEqual({ w1: 10 });
  }
  // Ready order, not names: after w1 leaves and comes back, w2 (with the connections) is first.
  p.remove("w1");
  p.add("w1");
  expect(count(pickMany(p, 5))).toEqual({ w2: 5 });
});

test("a worker at its loop's limit (BUSY_ELU) hands on to one with room", () => {
  const { p } = twoReporting(BUSY_ELU, 0.3);
  expect(count(pickMany(p, 10))).toEqual({ w2: 10 });
});

test("a worker at or above the threshold gets nothing while another has room; when none has, the least loaded", () => {
  const { p, advance } = twoReporting(0.9, 0.3, { busyElu: 0.9, burstConnections: 64 });
  expect(count(pickMany(p, 10))).toEqual({ w2: 10 });
  advance(500);
  p.report("w1", 0.97);
  p.report("w2", 0.95);
  // Each connection handed since the report adds 1/64 to the worker's load: 0.95, 0.966, then 0.981 > 0.97.
  expect(pickMany(p, 3)).toEqual(["w2", "w2", "w1"]);
  // Falls back to w1 when w2 is busier.
  advance(500);
  p.report("w1", 0.95);
  p.report("w2", 0.99);
  expect(p.pick()).toBe("w1");
});

test("a burst within one report window is capped per worker, then spread", () => {
  const { p } = twoReporting(0, 0);
  const picks = pickMany(p, 4 * BURST_CONNECTIONS);
  // The first BURST_CONNECTIONS to w1, the next to w2 (idle too), the rest alternate.
  expect(count(picks.slice(0, BURST_CONNECTIONS))).toEqual({ w1: BURST_CONNECTIONS });
  expect(count(picks.slice(BURST_CONNECTIONS, 2 * BURST_CONNECTIONS))).toEqual({ w2: BURST_CONNECTIONS });
  expect(count(picks)).toEqual({ w1: 2 * BURST_CONNECTIONS, w2: 2 * BURST_CONNECTIONS });
  // The next report starts a new window: w1 (still idle) takes them again.
  p.report("w1", 0.2);
  expect(p.pick()).toBe("w1");
});

test("a worker ready but not reported yet counts as idle, and is capped like any other", () => {
  const { p } = placement({ burstConnections: 3 });
  p.add("w1");
  p.add("w2");
  expect(pickMany(p, 6)).toEqual(["w1", "w1", "w1", "w2", "w2", "w2"]);
});

test("a stale worker (no report for STALE_MS: stopped) gets nothing while another reports", () => {
  const { p, advance } = twoReporting(0.1, 0.5);
  expect(p.pick()).toBe("w1");
  // w1 stops (SIGSTOP): only w2 goes on reporting, busy, but fresh.
  for (let t = 0; t <= STALE_MS; t += 250) {
    advance(250);
    p.report("w2", 0.99);
  }
  expect(count(pickMany(p, 20))).toEqual({ w2: 20 });
  // Both stale: still handed (not held), spread by what each was handed since.
  advance(STALE_MS + 1);
  const picks = count(pickMany(p, 40));
  expect(picks.w1 + picks.w2).toBe(40);
  expect(Math.abs(picks.w1 - picks.w2 - 20)).toBeLessThanOrEqual(1); // w2 was handed 20 since its last report, w1 1
  // w1 resumes reporting: it is first again.
  p.report("w1", 0.1);
  expect(p.pick()).toBe("w1");
});

test("a worker gone gets nothing, even with room; with none left, nothing is picked", () => {
  const { p } = twoReporting(0, 0.99);
  p.remove("w1");
  p.report("w1", 0); // a late report from the dead worker does not bring it back
  expect(count(pickMany(p, 10))).toEqual({ w2: 10 });
  p.remove("w2");
  expect(p.pick()).toBeUndefined();
  expect(p.size).toBe(0);
});

test("a worker that reports it cannot write (re-joining after a stop) gets no new connection while another can", () => {
  const { p, advance } = twoReporting(0.1, 0.1);
  // w1 was SIGSTOPped past its presence lease, and resumed: idle, fresh, but answering writes 503.
  advance(1_000);
  p.report("w1", 0.05, false);
  p.report("w2", BUSY_ELU + 0.01); // even a full worker that can write is better
  expect(count(pickMany(p, 10))).toEqual({ w2: 10 });
  // Its lease back: first in line again.
  advance(1_000);
  p.report("w1", 0.05, true);
  p.report("w2", 0.5);
  expect(count(pickMany(p, 10))).toEqual({ w1: 10 });
  // With no writable worker at all, a connection still goes somewhere (held ones would wait for nothing).
  advance(1_000);
  p.report("w1", 0.05, false);
  p.report("w2", 0.05, false);
  expect(p.pick()).toBeDefined();
});
