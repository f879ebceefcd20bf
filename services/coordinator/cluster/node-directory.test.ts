import type { Pool } from "mysql2/promise";
import { silentLog } from "../../rpc/testing/test-helpers";
import { NodeDirectory } from "./node-directory";

// A node's silence is not counted while the coordinator could not read the nodes table (MariaDB
// away: no node could heartbeat either). After MariaDB came back from an outage longer than
// MINIS3_NODE_DOWN_AFTER, the first refresh took every node for down until its next heartbeat.

const DOWN_AFTER = 3_000;

/** The nodes table: each node's last heartbeat (ms on the fake clock), and whether MariaDB answers. */
function table() {
  const beats = new Map<string, number>();
  let away = false;
  const pool = {
    query: async () => {
      if (away) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      const rows = [...beats]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([id, at]) => ({
          id,
          kind: "storage",
          address: `${id}:1`,
          zone: "z",
          state: "active",
          blob_count: 0,
          used_bytes: 0,
          free_bytes: 1,
          hb: at,
          started: 1,
          age_ms: Date.now() - at,
        }));
      return [rows];
    },
  } as unknown as Pool;
  return { beats, pool, setAway: (v: boolean) => (away = v) };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test("nodes that heartbeated before MariaDB went away stay up after it returns, until they have had the time to beat again", async () => {
  const t = table();
  t.beats.set("n1", Date.now());
  t.beats.set("n2", Date.now());
  t.beats.set("dead", Date.now() - 10 * DOWN_AFTER); // down before the outage
  const d = new NodeDirectory(t.pool, 1_000, DOWN_AFTER, silentLog);
  await d.refresh();
  expect(d.all().map((n) => [n.id, n.live])).toEqual([
    ["dead", false],
    ["n1", true],
    ["n2", true],
  ]);

  t.setAway(true); // MariaDB away for longer than DOWN_AFTER: no heartbeat lands, no refresh reads
  for (let i = 0; i < 4; i++) {
    jest.advanceTimersByTime(1_000);
    await expect(d.refresh()).rejects.toMatchObject({ code: "ECONNREFUSED" });
  }
  t.setAway(false);
  await d.refresh(); // before any node's heartbeat landed again
  expect(d.all().map((n) => [n.id, n.live])).toEqual([
    ["dead", false],
    ["n1", true],
    ["n2", true],
  ]);

  t.beats.set("n1", Date.now() + 500); // n1 beats again; n2 never does
  jest.advanceTimersByTime(DOWN_AFTER - 1);
  await d.refresh();
  expect(d.all().map((n) => [n.id, n.live])).toEqual([
    ["dead", false],
    ["n1", true],
    ["n2", true],
  ]);
  jest.advanceTimersByTime(1);
  await d.refresh();
  expect(d.all().map((n) => [n.id, n.live])).toEqual([
    ["dead", false],
    ["n1", true],
    ["n2", false],
  ]);
});

test("without a failed read, a silent node is down as soon as its silence passes MINIS3_NODE_DOWN_AFTER", async () => {
  const t = table();
  t.beats.set("n1", Date.now());
  const d = new NodeDirectory(t.pool, 1_000, DOWN_AFTER, silentLog);
  await d.refresh();
  jest.advanceTimersByTime(DOWN_AFTER);
  await d.refresh();
  expect(d.heartbeating("n1")).toBe(false);
});
