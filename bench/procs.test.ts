import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findServiceProcesses, withChildren } from "./procs";

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

// The bench measuring a cluster it did not start must count that cluster's processes only: under
// jest another suite's cluster runs beside it, and its names came first (CI saw the bench's own
// coordinator listed as `coordinator#<pid>`, so the coordinator's figures were missing).
test("findServiceProcesses(url) lists the processes of the cluster listening at the URL, not a neighbour's, and its launcher", async () => {
  const root = await mkdtemp(join(tmpdir(), "minis3-procs-"));
  const started: ChildProcess[] = [];
  try {
    for (const service of ["coordinator", "storage"]) {
      await mkdir(join(root, "dist/services", service), { recursive: true });
      const listen =
        service === "coordinator"
          ? "const s = require('net').createServer().listen(0, '127.0.0.1', () => out(s.address().port));"
          : "out(0);";
      const script = `const out = (port) => console.log(JSON.stringify({ service: ${JSON.stringify(service)}, pid: process.pid, port })); ${listen} setInterval(() => {}, 1e6);`;
      await writeFile(join(root, "dist/services", service, "main.js"), script);
    }
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MINIS3_")));
    // Each "cluster" is a parent process that starts its services, as the launcher does (or is it).
    const launcher = join(root, "dist/deploy/launcher/main.js");
    const cluster = async (services: string[], asLauncher = false) => {
      const spawnAll = services.map(
        (s) =>
          `require('child_process').spawn(process.execPath, [${JSON.stringify(join(root, "dist/services", s, "main.js"))}], { stdio: ['ignore', 'inherit', 'ignore'] });`,
      );
      const code = `${spawnAll.join(" ")} setInterval(() => {}, 1e6);`;
      if (asLauncher) await mkdir(join(root, "dist/deploy/launcher"), { recursive: true }).then(() => writeFile(launcher, code));
      const parent = spawn(process.execPath, asLauncher ? [launcher] : ["-e", code], {
        env,
        stdio: ["ignore", "pipe", "ignore"],
        detached: true,
      });
      started.push(parent);
      const lines: { service: string; pid: number; port: number }[] = [];
      let text = "";
      for await (const chunk of parent.stdout!) {
        text += chunk;
        const all = text.split("\n").filter(Boolean);
        if (all.length === services.length) {
          lines.push(...all.map((l) => JSON.parse(l)));
          break;
        }
      }
      return { lines, parent: parent.pid! };
    };
    const { lines: a } = await cluster(["coordinator", "storage"]);
    const { lines: b } = await cluster(["coordinator"]);
    const { lines: c, parent: launcherPid } = await cluster(["coordinator"], true);
    const urlOf = (c: typeof a) => `http://127.0.0.1:${c.find((l) => l.service === "coordinator")!.port}`;
    const sorted = (p: { name: string; pid: number }[]) => [...p].sort((x, y) => x.pid - y.pid);

    expect(sorted(findServiceProcesses(urlOf(b)))).toEqual([{ name: "coordinator", pid: b[0].pid }]);
    expect(sorted(findServiceProcesses(urlOf(a)))).toEqual(sorted(a.map((l) => ({ name: l.service, pid: l.pid }))));
    // `npm start`'s launcher relays its services' lines: its CPU is the cluster's too.
    expect(sorted(findServiceProcesses(urlOf(c)))).toEqual(
      sorted([
        { name: "coordinator", pid: c[0].pid },
        { name: "launcher", pid: launcherPid },
      ]),
    );
  } finally {
    for (const p of started) {
      try {
        process.kill(-p.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await rm(root, { recursive: true, force: true });
  }
});
