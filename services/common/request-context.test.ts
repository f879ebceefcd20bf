import { currentRequestId, outsideRequests, withRequestId } from "./request-context";

// Batches and timers that serve many requests run as none of them (outsideRequests), and
// everything they start stays outside too; the request's own work keeps its id around them.

test("work started outside requests, from inside one, sees no request id; the request's own work keeps it", async () => {
  await withRequestId("req-1", async () => {
    const seen = await outsideRequests(async () => {
      const inTimer = new Promise<string | undefined>((resolve) => setTimeout(() => resolve(currentRequestId()), 1));
      const inPromise = Promise.resolve().then(() => currentRequestId());
      await new Promise((resolve) => setImmediate(resolve));
      return { now: currentRequestId(), afterAwait: currentRequestId(), timer: await inTimer, promise: await inPromise };
    });
    expect(seen).toEqual({ now: undefined, afterAwait: undefined, timer: undefined, promise: undefined });
    expect(currentRequestId()).toBe("req-1");
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(currentRequestId()).toBe("req-1");
  });
  expect(currentRequestId()).toBeUndefined();
});
