import { Readiness, type ReadinessDeps } from "./readiness";

function deps(over: Partial<ReadinessDeps> = {}): ReadinessDeps {
  return {
    catalogue: { ping: async () => undefined },
    redis: { ping: async () => undefined },
    placement: { liveStorageNodes: () => 3 },
    writeQuorum: 2,
    ...over,
  };
}

const never = () => new Promise<void>(() => undefined);

test("ready when every check passes", async () => {
  const r = await new Readiness(deps()).check();
  expect(r).toMatchObject({ ready: true, failed: [] });
  expect(r.checks.writeQuorum).toEqual({ ok: true, liveStorageNodes: 3, writeQuorum: 2 });
});

test("each failed check is named, with its reason", async () => {
  const r = await new Readiness(
    deps({
      redis: { ping: async () => Promise.reject(new Error("Connection is closed.")) },
      placement: { liveStorageNodes: () => 1 },
    }),
  ).check();
  expect(r).toMatchObject({ ready: false, failed: ["redis", "writeQuorum"] });
  expect(r.checks.redis.error).toBe("Connection is closed.");
  expect(r.checks.writeQuorum.error).toBe("1 storage node(s) live, a write needs 2");
});

test("a check that does not answer fails at the timeout, and later probes join it instead of starting another", async () => {
  let pings = 0;
  const readiness = new Readiness(
    deps({
      catalogue: {
        ping: () => {
          pings++;
          return never();
        },
      },
    }),
    50,
  );
  const [a, b] = await Promise.all([readiness.check(), readiness.check()]);
  const c = await readiness.check();
  for (const r of [a, b, c]) {
    expect(r).toMatchObject({ ready: false, failed: ["database"] });
    expect(r.checks.database.error).toBe("no answer within 50 ms");
  }
  expect(pings).toBe(1);
});
