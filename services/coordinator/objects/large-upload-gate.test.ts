import { ErrorCode, hasCode } from "../../common/errors";
import { LargeUploadGate } from "./large-upload-gate";

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("at most `limit` large uploads stream at once; the others get their turn in arrival order as one ends", async () => {
  const gate = new LargeUploadGate({ limit: 2, waitMs: 60_000 });
  const a = await gate.enter();
  const b = await gate.enter();
  const order: string[] = [];
  const c = gate.enter().then((turn) => (order.push("c"), turn));
  const d = gate.enter().then((turn) => (order.push("d"), turn));
  await tick();
  expect([gate.streaming, gate.waiting, order]).toEqual([2, 2, []]);
  a.leave();
  const turnC = await c;
  expect([gate.streaming, gate.waiting, order]).toEqual([2, 1, ["c"]]);
  b.leave();
  const turnD = await d;
  expect(order).toEqual(["c", "d"]);
  turnC.leave();
  turnD.leave();
  expect([gate.streaming, gate.waiting]).toEqual([0, 0]);
});

test("an upload that waits past waitMs is refused with SlowDown, and never takes a turn afterwards", async () => {
  const gate = new LargeUploadGate({ limit: 1, waitMs: 50 });
  const first = await gate.enter();
  const started = performance.now();
  const refused = await gate.enter().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(hasCode(refused, ErrorCode.SlowDown)).toBe(true);
  expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  expect(gate.waiting).toBe(0);
  first.leave();
  // The refused upload left no claim: the next one streams at once.
  expect(gate.streaming).toBe(0);
  const next = await gate.enter();
  expect(gate.streaming).toBe(1);
  next.leave();
});

test("leaving twice frees one turn, not two", async () => {
  const gate = new LargeUploadGate({ limit: 1, waitMs: 60_000 });
  const turn = await gate.enter();
  turn.leave();
  turn.leave();
  const a = await gate.enter();
  let bIn = false;
  const b = gate.enter().then((t) => ((bIn = true), t));
  await tick();
  expect(bIn).toBe(false);
  a.leave();
  (await b).leave();
});

test("an upload whose client sends slower than the floor while it waits for it gives its turn to the next one", async () => {
  const gate = new LargeUploadGate({ limit: 1, waitMs: 60_000, slowBytes: 1024, checkEveryMs: 20 });
  const slow = await gate.enter();
  // The engine waits for the slow client's next bytes, which do not come.
  let send!: (b: Buffer) => void;
  const pulled = slow.pull(new Promise<Buffer>((r) => (send = r)));
  const next = gate.enter();
  const other = await next; // within a check or two, not at the slow one's end
  expect([slow.holding, other.holding, gate.streaming]).toEqual([false, true, 1]);
  send(Buffer.alloc(10));
  expect((await pulled)?.length).toBe(10); // the slow upload streams on, without a turn
  slow.leave(); // gave it up already: frees nothing more
  expect(gate.streaming).toBe(1);
  other.leave();
  expect(gate.streaming).toBe(0);
});

test("an upload that gets its client's bytes above the floor, or waits on its replicas instead, keeps its turn", async () => {
  const gate = new LargeUploadGate({ limit: 1, waitMs: 60_000, slowBytes: 1024, checkEveryMs: 20 });
  const fast = await gate.enter();
  const until = performance.now() + 150;
  while (performance.now() < until) {
    await fast.pull(Promise.resolve(Buffer.alloc(64 * 1024)));
    await sleep(1);
  }
  expect(fast.holding).toBe(true);
  // Not pulling (its replicas are slow, not its client): no bytes, but the turn stays.
  await sleep(80);
  expect(fast.holding).toBe(true);
  fast.leave();
  expect(gate.streaming).toBe(0);
});
