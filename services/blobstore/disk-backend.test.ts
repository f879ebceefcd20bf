import { crc32 } from "node:zlib";
import { blobOf, silentLog, tempDir } from "../rpc/testing/test-helpers";
import { DiskBackend } from "./disk-backend";

test("nodes started together compact at different moments, and the timer's compactions are paced", async () => {
  const dir = await tempDir("disk-backend");
  const random = jest.spyOn(Math, "random");
  jest.useFakeTimers({ doNotFake: ["nextTick", "setImmediate", "queueMicrotask"] });
  const backends = ["a", "b"].map((id) => new DiskBackend({ dataDir: `${dir.path}/${id}`, chunkSize: 64 * 1024, log: silentLog }));
  try {
    const firstAt: number[] = [];
    const paced: unknown[] = [];
    for (const [i, b] of backends.entries()) {
      random.mockReturnValueOnce(i === 0 ? 0.1 : 0.7); // each node's phase
      await b.open();
      jest.spyOn(b.segments, "compact").mockImplementation(async (_share, opts) => {
        firstAt[i] ??= Date.now();
        paced.push(opts?.dutyCycle);
        return 0;
      });
    }
    const start = Date.now();
    jest.advanceTimersByTime(60_000);
    // Every 60 s, the first at 60 s less the phase: 54 s and 18 s in, not both at 60 s.
    expect(firstAt.map((t) => t - start)).toEqual([54_000, 18_000]);
    expect(paced.every((d) => typeof d === "number" && d < 1)).toBe(true);
  } finally {
    jest.useRealTimers();
    random.mockRestore();
    for (const b of backends) await b.close();
    await dir.remove();
  }
});

test("a small blob's read is checked by its record's crc32s, its verify by the sha256 as well", async () => {
  const dir = await tempDir("disk-backend");
  const backend = new DiskBackend({ dataDir: dir.path, chunkSize: 64 * 1024, log: silentLog });
  try {
    await backend.open();
    const b = blobOf(4096);
    // Stored with a sha256 that is not the data's (the put checks the sender's crc32 only).
    await backend.putSmall("s", {}, b.data, Buffer.alloc(32, 1), crc32(b.data));
    await backend.putSmall("t", {}, b.data, b.sha256, crc32(b.data));
    const reader = await backend.read("s", 0, undefined);
    const parts: Buffer[] = [];
    for await (const c of reader.chunks) parts.push(c);
    expect(Buffer.concat(parts).equals(b.data)).toBe(true);
    expect((await backend.verify("s")).verdict).toBe("corrupt");
    expect((await backend.verify("t")).verdict).toBe("ok");
  } finally {
    await backend.close();
    await dir.remove();
  }
});
