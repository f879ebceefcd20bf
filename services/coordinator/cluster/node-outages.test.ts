import { EventEmitter } from "node:events";
import type { NodeRecord } from "../../membership/node-record";
import { NodeOutages } from "./node-outages";

const node = (id: string, live: boolean, extra: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  kind: "storage",
  address: "a",
  zone: "z",
  metricsPort: null,
  state: live ? "up" : "stopped",
  live,
  blobCount: 0,
  usedBytes: 0,
  freeBytes: 0,
  heartbeatAtMs: 0,
  silentForMs: live ? 0 : 3_600_000,
  ...extra,
});

/** Stands in for NodeDirectory: a refresh that changes liveness emits "change". */
class FakeDirectory extends EventEmitter {
  /** Nodes that heartbeat while this coordinator cannot reach them (their records say not live). */
  readonly cutOff = new Set<string>();
  /** When the rows were last read (monotonic); by default always just now. */
  lastRead = Infinity;
  constructor(public records: NodeRecord[]) {
    super();
  }
  all() {
    return this.records;
  }
  readAt() {
    return this.lastRead;
  }
  heartbeating(id: string) {
    return this.cutOff.has(id) || (this.records.find((r) => r.id === id)?.live ?? false);
  }
  refresh(records: NodeRecord[]) {
    this.records = records;
    this.emit("change", records);
  }
}

describe("node outages", () => {
  let now = 1_000;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000;
  });

  test("a node down since long before start-up (old heartbeat rows) is lost only after the coordinator watched it for the delay", () => {
    const dir = new FakeDirectory([node("storage-1", false), node("storage-2", true)]);
    const o = new NodeOutages(dir, 3000, clock);
    expect(o.settlesInMs()).toBe(3000);
    now += 2999;
    expect(o.lost()).toEqual([]);
    expect(o.settlesInMs()).toBe(1);
    now += 1;
    expect(o.lost()).toEqual(["storage-1"]);
    expect(o.settlesInMs()).toBe(0);
  });

  test("time the coordinator did not look (stopped, or MariaDB away) does not count towards an outage", () => {
    const dir = new FakeDirectory([node("storage-1", false)]);
    dir.lastRead = now;
    const o = new NodeOutages(dir, 3000, clock);
    expect(o.lost()).toEqual([]);
    // Seen down once; then SIGSTOPped for a minute, during which the node came back. On waking,
    // before the next refresh, nothing says it is still down: its copies must not count as lost.
    now += 60_000;
    expect(o.lost()).toEqual([]);
    // A refresh that shows it still down (no change, so no event) says it was down all along.
    dir.lastRead = now;
    expect(o.lost()).toEqual(["storage-1"]);
  });

  test("a node that comes back, even for one refresh, starts its outage again", () => {
    const dir = new FakeDirectory([node("storage-1", true)]);
    const o = new NodeOutages(dir, 3000, clock);
    now += 10_000;
    dir.refresh([node("storage-1", false)]);
    now += 2000;
    dir.refresh([node("storage-1", true)]);
    dir.refresh([node("storage-1", false)]);
    now += 2000;
    expect(o.lost()).toEqual([]);
    now += 1000;
    expect(o.lost()).toEqual(["storage-1"]);
  });

  test("only registered storage nodes count: other kinds and rows that went away do not; a retired one counts at once", () => {
    const dir = new FakeDirectory([
      node("backup-1", false, { kind: "backup" }),
      node("storage-1", false, { state: "removed" }),
      node("storage-2", false),
    ]);
    const o = new NodeOutages(dir, 3000, clock);
    expect(o.lost()).toEqual(["storage-1"]);
    now += 5000;
    expect(o.lost()).toEqual(["storage-2", "storage-1"]);
    dir.refresh([node("backup-1", false, { kind: "backup" })]);
    expect(o.lost()).toEqual([]);
  });

  test("a node this coordinator cannot reach but that keeps heartbeating is never lost; once its heartbeat stops, it is", () => {
    const dir = new FakeDirectory([node("storage-1", true)]);
    const o = new NodeOutages(dir, 3000, clock);
    dir.cutOff.add("storage-1");
    dir.refresh([node("storage-1", false, { silentForMs: 0 })]); // suspected: routed around, not down
    now += 60_000;
    expect(o.lost()).toEqual([]);
    dir.cutOff.delete("storage-1");
    dir.refresh([node("storage-1", false)]);
    now += 3000;
    expect(o.lost()).toEqual(["storage-1"]);
  });

  test("a draining node is emptied while up, and lost at once when down (an operator said it goes)", () => {
    const dir = new FakeDirectory([node("storage-1", true, { state: "draining" }), node("storage-2", true)]);
    const o = new NodeOutages(dir, 3000, clock);
    expect(o.lost()).toEqual([]);
    expect(o.toEmpty()).toEqual(["storage-1"]);
    now += 10;
    dir.refresh([node("storage-1", false, { state: "draining" }), node("storage-2", true)]);
    expect(o.lost()).toEqual(["storage-1"]);
    expect(o.toEmpty()).toEqual(["storage-1"]);
    dir.refresh([node("storage-1", false, { state: "removed" }), node("storage-2", true)]);
    expect(o.lost()).toEqual(["storage-1"]);
  });
});
