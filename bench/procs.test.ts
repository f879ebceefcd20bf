import { spawn } from "node:child_process";
import { withChildren } from "./procs";

// A coordinator group is one primary the supervisor knows and workers it forks: the bench must count
// the workers' CPU too (it once reported 0 CPU s for a two-coordinator group doing all the work).
test("withChildren lists each process's children under its name", async () => {
  const parent = spawn(
    process.execPath,
    ["-e", "require('child_process').spawn('sleep', ['30'], { stdio: 'ignore' }); setTimeout(() => {}, 30000)"],
    {
      stdio: "ignore",
    },
  );
  let procs: ReturnType<typeof withChildren> = [];
  try {
    procs = withChildren([{ name: "group", pid: parent.pid! }]);
    for (let i = 0; i < 50 && procs.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      procs = withChildren([{ name: "group", pid: parent.pid! }]);
    }
    expect(procs[0]).toEqual({ name: "group", pid: parent.pid });
    expect(procs).toHaveLength(2);
    expect(procs[1].name).toBe(`group/${procs[1].pid}`);
  } finally {
    for (const p of procs.slice(1)) process.kill(p.pid, "SIGKILL");
    parent.kill("SIGKILL");
  }
});
