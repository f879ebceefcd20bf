import { ErrorCode, hasCode } from "../../common/errors";
import { LargeUploadGate } from "./large-upload-gate";

test("at most `limit` large uploads stream at once; the others get their turn in arrival order as one ends", async () => {
  const gate = new LargeUploadGate({ limit: 2, waitMs: 60_000 });
  const a = await gate.enter();
  const b = await gate.enter();
  const order: string[] = [];
  const c = gate.enter().then((leave) => (order.push("c"), leave));
  const d = gate.enter().then((leave) => (order.push("d"), leave));
  await new Promise((r) => setImmediate(r));
  expect([gate.streaming, gate.waiting, order]).toEqual([2, 2, []]);
  a();
  const leaveC = await c;
  expect([gate.streaming, gate.waiting, order]).toEqual([2, 1, ["c"]]);
  b();
  const leaveD = await d;
  expect(order).toEqual(["c", "d"]);
  leaveC();
  leaveD();
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
  first();
  // The refused upload left no claim: the next one streams at once.
  expect(gate.streaming).toBe(0);
  const next = await gate.enter();
  expect(gate.streaming).toBe(1);
  next();
});

test("leaving twice frees one turn, not two", async () => {
  const gate = new LargeUploadGate({ limit: 1, waitMs: 60_000 });
  const leave = await gate.enter();
  leave();
  leave();
  const a = await gate.enter();
  let bIn = false;
  const b = gate.enter().then((l) => ((bIn = true), l));
  await new Promise((r) => setImmediate(r));
  expect(bIn).toBe(false);
  a();
  (await b)();
});
