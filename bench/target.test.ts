import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SETTINGS } from "../services/common/config";
import { privateClusterEnv, waitQuiet } from "./target";

// Issue 16's floors are measured on npm start's cluster; the test harness's defaults (one
// coordinator, 250 ms heartbeats) made the bench report 1.6x the ops/s users get from two.
describe("the bench's private cluster", () => {
  it("is npm start's: two coordinators and the default heartbeats, not the test harness's settings", () => {
    const env = privateClusterEnv({});
    expect(env.MINIS3_COORDINATORS).toBe(SETTINGS.coordinators.default);
    expect(env.MINIS3_COORDINATORS).toBe("2");
    expect(env.MINIS3_HEARTBEAT_INTERVAL).toBe("1s");
    expect(env.MINIS3_NODE_DOWN_AFTER).toBe(SETTINGS.nodeDownAfter.default);
    expect(env.MINIS3_RECONCILE_INTERVAL).toBe(SETTINGS.reconcileInterval.default);
  });

  it("takes --cluster-env over those", () => {
    const env = privateClusterEnv({ MINIS3_COORDINATORS: "1", MINIS3_SCRUB_RATE: "0" });
    expect(env.MINIS3_COORDINATORS).toBe("1");
    expect(env.MINIS3_SCRUB_RATE).toBe("0");
    expect(env.MINIS3_HEARTBEAT_INTERVAL).toBe("1s");
  });
});

// A phase must not pay for the one before: the facade large rows' deletes were trash-moved during
// the S3 rows that follow them (the due-row poller's moves are no queued jobs, and /status counts
// only the answering worker's in flight).
describe("waitQuiet", () => {
  let server: Server;
  let url: string;
  const asked: string[] = [];
  /** Trash moves /status/upcoming lists for its next looks. */
  let movesLeft: number[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      asked.push(req.url ?? "");
      res.setHeader("content-type", "application/json");
      if (req.url === "/status") return res.end(JSON.stringify({ queues: [{ name: "trash", waiting: 0, active: 0 }] }));
      const moves = movesLeft.shift() ?? 0;
      const upcoming = [
        ...Array.from({ length: moves }, () => ({ transition: "trash", tier: "hot" })),
        { transition: "demote", tier: "hot" },
        { transition: "purge", tier: "trash" },
      ];
      res.end(JSON.stringify({ upcoming }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("waits for trash moves the catalogue still lists, with the queues already empty", async () => {
    asked.length = 0;
    movesLeft = [10, 3, 1];
    const logged: string[] = [];
    await waitQuiet(url, 60_000, (m) => logged.push(m));
    expect(asked.filter((u) => u.startsWith("/status/upcoming"))).toHaveLength(4);
    expect(logged).toEqual([]);
  });

  it("does not wait for demotions and purges, which are not due", async () => {
    asked.length = 0;
    movesLeft = [];
    await waitQuiet(url, 60_000, () => undefined);
    expect(asked.filter((u) => u.startsWith("/status/upcoming"))).toHaveLength(1);
  });
});
