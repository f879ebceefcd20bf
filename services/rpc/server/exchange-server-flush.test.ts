import type { ServerDuplexStream } from "@grpc/grpc-js";
import { EventEmitter } from "node:events";
import { DiskBackend } from "../../blobstore/disk-backend";
import type { BatchRequest, BatchResponse, BlobOp } from "../gen/minis3/v1/node";
import { blobOf, silentLog, tempDir } from "../testing/test-helpers";
import { serveExchange } from "./exchange-server";
import { OpLog } from "./op-log";
import { FencedBackend } from "./put-fence";

// When the node's results go back on an Exchange stream: at once when nothing else is in flight
// (a message's puts all finish in their group's tick; the 1 ms timer's wake-up cost a node ~3
// epoll_pwait calls an op at 1 in flight, bench/README "An Exchange message answered when its last
// op finishes"), after 1 ms otherwise, so that results finishing close together share a message.

/** The server side of an Exchange stream, as serveExchange uses it. */
class FakeCall extends EventEmitter {
  readonly written: BatchResponse[] = [];
  write(msg: BatchResponse): boolean {
    this.written.push(msg);
    return true;
  }
  end(): void {
    this.emit("ended");
  }
}

let dir: { path: string; remove(): Promise<void> };
let backend: DiskBackend;

beforeAll(async () => {
  dir = await tempDir("exchange-flush");
  backend = new DiskBackend({ dataDir: dir.path, chunkSize: 64 * 1024, log: silentLog, compactIntervalMs: 0 });
  await backend.open();
});

afterAll(async () => {
  await backend.close();
  await dir.remove();
});

afterEach(() => jest.useRealTimers());

const putOp = (id: number, blobId: string): BlobOp => {
  const b = blobOf(4096);
  return { id, requestId: "", op: { $case: "put", value: { header: { blobId, attributes: {} }, data: b.data, sha256: b.sha256 } } };
};

function serve(): FakeCall {
  const call = new FakeCall();
  serveExchange(
    call as unknown as ServerDuplexStream<BatchRequest, BatchResponse>,
    new FencedBackend(backend),
    1 << 20,
    silentLog,
    new OpLog(silentLog),
  );
  return call;
}

/** Lets real I/O and the loop run (the group's write and sync) while timers stand still. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setImmediate(r));
}

test("a message's puts are answered together as their group's sync returns, with no timer left behind", async () => {
  jest.useFakeTimers({ doNotFake: ["setImmediate", "nextTick", "queueMicrotask"] });
  const call = serve();
  call.emit("data", { ops: [putOp(1, "a1"), putOp(2, "a2"), putOp(3, "a3")] });
  await until(() => call.written.length > 0);
  // No time has passed on the timers: the answer did not wait for one.
  expect(call.written.map((m) => m.results.map((r) => [r.id, r.code]))).toEqual([
    [
      [1, 0],
      [2, 0],
      [3, 0],
    ],
  ]);
  expect(jest.getTimerCount()).toBe(0);
});

test("a result that finishes while others are in flight waits 1 ms for company", async () => {
  jest.useFakeTimers({ doNotFake: ["setImmediate", "nextTick", "queueMicrotask"] });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const stat = backend.stat.bind(backend);
  const slow = jest.spyOn(backend, "stat").mockImplementation(async (id) => {
    if (id === "slow") await held;
    return stat(id);
  });
  try {
    const call = serve();
    const statOp = (id: number, blobId: string): BlobOp => ({ id, requestId: "", op: { $case: "stat", value: { blobId } } });
    call.emit("data", { ops: [statOp(1, "quick"), statOp(2, "slow")] });
    await until(() => jest.getTimerCount() > 0);
    expect(call.written).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(call.written.map((m) => m.results.map((r) => r.id))).toEqual([[1]]);
    release();
    await until(() => call.written.length > 1);
    expect(call.written.map((m) => m.results.map((r) => r.id))).toEqual([[1], [2]]);
    expect(jest.getTimerCount()).toBe(0);
  } finally {
    slow.mockRestore();
  }
});
