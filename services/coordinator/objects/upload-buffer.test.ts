import { ErrorCode, hasCode } from "../../common/errors";
import { UploadBuffer } from "./upload-buffer";

const tick = () => new Promise((r) => setImmediate(r));

test("uploads hold room for what they take; one that does not fit waits, in arrival order, until room is given back", async () => {
  const buffer = new UploadBuffer({ bytes: 1000, waitMs: 60_000 });
  const a = await buffer.take(600);
  const order: string[] = [];
  const b = buffer.take(500).then((room) => (order.push("b"), room));
  const c = buffer.take(100).then((room) => (order.push("c"), room)); // fits now, but b came first
  await tick();
  expect([buffer.held, buffer.waiting, order]).toEqual([600, 2, []]);
  a.release();
  const [roomB, roomC] = await Promise.all([b, c]);
  expect([buffer.held, order]).toEqual([600, ["b", "c"]]);
  roomB.release();
  roomB.release(); // once only
  roomC.release();
  expect([buffer.held, buffer.waiting]).toEqual([0, 0]);
});

test("an upload that waits past waitMs is refused with SlowDown and holds nothing; an empty one never waits", async () => {
  const buffer = new UploadBuffer({ bytes: 1000, waitMs: 30 });
  const full = await buffer.take(1000);
  const refused = await buffer.take(1).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(hasCode(refused, ErrorCode.SlowDown)).toBe(true);
  expect((refused as Error).message).toContain("MINIS3_UPLOAD_BUFFER");
  expect(buffer.waiting).toBe(0);
  (await buffer.take(0)).release(); // an empty body, while the buffer is full
  full.release();
  expect(buffer.held).toBe(0);
});

test("a head larger than the whole buffer takes all of it and runs alone rather than never", async () => {
  const buffer = new UploadBuffer({ bytes: 1000, waitMs: 60_000 });
  const big = await buffer.take(5000);
  expect(buffer.held).toBe(1000);
  let small = false;
  const next = buffer.take(1).then((room) => ((small = true), room));
  await tick();
  expect(small).toBe(false);
  big.release();
  (await next).release();
  expect(buffer.held).toBe(0);
});
