import { SETTINGS } from "../services/common/config";
import { privateClusterEnv } from "./target";

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
