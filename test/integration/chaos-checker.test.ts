import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { failures, runChaos, type ChaosReport } from "../../bench/chaos/run";
import { startFaultyFacade, type FacadeBug } from "../support/stubs/faulty-facade";

// The chaos checker against a store with one deliberate bug at a time: each must fail the run under
// its own name (a checker that cannot fail proves nothing by passing), and a correct store must pass.
// Then `npm run chaos`'s own entry point, with a fault command, end to end.

jest.setTimeout(60_000);

const run = promisify(execFile);
const MAIN = join(__dirname, "../../dist/bench/chaos/main.js");

async function chaosAgainst(bug?: FacadeBug): Promise<ChaosReport> {
  const facade = await startFaultyFacade(bug);
  try {
    // Few fixed keys and no new ones: overwrites, deletes and reads meet on the same keys.
    return await runChaos({
      targets: [facade.url],
      durationMs: 4000, // ~60 operations even when a loaded machine gives the stub 250 ms per answer
      concurrency: 4,
      replicas: 2,
      repairTimeoutMs: 1000,
      workload: { fixedKeys: 8, newKeyShare: 0, largeShare: 0 },
    });
  } finally {
    await facade.close();
  }
}

describe("chaos checker", () => {
  it("passes a store that keeps its promises", async () => {
    const r = await chaosAgainst();
    expect(r.workload.operations).toBeGreaterThan(20); // 45 in 4 s at load 28, ~150 on a quiet machine
    expect(r.history.acknowledgedWrites).toBeGreaterThan(5);
    expect(failures(r)).toEqual([]);
    expect(r.fullRepairMs).not.toBeNull();
  });

  it.each<[FacadeBug, (r: ChaosReport) => number]>([
    ["forget-writes", (r) => r.lost + r.stale],
    ["skip-deletes", (r) => r.resurrected + r.stale],
    ["stale-reads", (r) => r.stale],
    ["corrupt-reads", (r) => r.wrong],
    ["one-copy", (r) => r.shortOfReplicas.length],
  ])("fails a store that has the bug %s, under its name", async (bug, found) => {
    const r = await chaosAgainst(bug);
    expect(found(r)).toBeGreaterThan(0);
    expect(failures(r).length).toBeGreaterThan(0);
  });

  it("npm run chaos: runs the fault command, prints the report, exits 0 on a good store and 1 on a bad one", async () => {
    const args = (url: string) => [
      "--target",
      url,
      "--duration",
      "2s",
      "--concurrency",
      "4",
      "--kill-cmd",
      "echo fault $CHAOS_ROUND",
      "--kill-every",
      "300ms",
      "--repair-timeout",
      "2s",
    ];
    const good = await startFaultyFacade();
    try {
      const { stdout, stderr } = await run(process.execPath, [MAIN, ...args(good.url)]);
      expect(stdout).toMatch(/^lost +0$/m);
      expect(stdout).toMatch(/^stale +0$/m);
      expect(stdout).toMatch(/^PASSED/m);
      expect(stderr).toMatch(/fault round 1: exit 0 after \d+ ms: fault 1/);
    } finally {
      await good.close();
    }
    const bad = await startFaultyFacade("forget-writes");
    try {
      const failed = await run(process.execPath, [MAIN, ...args(bad.url)]).then(
        () => undefined,
        (e: { code: number; stdout: string }) => e,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stdout).toMatch(/^FAILED: /m);
    } finally {
      await bad.close();
    }
  });
});
