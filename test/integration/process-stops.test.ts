import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { repoRoot } from "../../deploy/launcher/paths";

// How every service process stops (services/common/process.ts, compiled): a second signal exits at
// once, and a process started by a parent over an IPC channel (the launcher) stops when that parent
// dies, whether it is running or still starting.

const dist = join(repoRoot(__dirname), "dist/services/common");

/** A service stand-in: start-up takes STARTUP_MS, its shutdown takes SHUTDOWN_MS (or never ends). */
const SERVICE = `
const { onShutdown, runMain } = require(${JSON.stringify(join(dist, "process.js"))});
const { createLogger } = require(${JSON.stringify(join(dist, "logger.js"))});
const log = createLogger("stand-in");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
runMain(log, async () => {
  log.info("starting");
  await sleep(Number(process.env.STARTUP_MS));
  const work = setInterval(() => undefined, 1000); // a server's handles keep it running
  onShutdown(log, async () => {
    if (process.env.SHUTDOWN_MS === "never") await new Promise(() => undefined);
    await sleep(Number(process.env.SHUTDOWN_MS));
    clearInterval(work);
  });
  log.info("ready");
});
`;

/** Starts the stand-in with an IPC channel (as the launcher does), prints its pid, then idles. */
const PARENT = `
const { spawn } = require("node:child_process");
const child = spawn(process.execPath, [process.argv[2]], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
process.stdout.write("child " + child.pid + "\\n");
setInterval(() => undefined, 1000);
`;

describe("a service process stopping", () => {
  let dir: string;
  let service: string;
  let parent: string;
  const started: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "minis3-process-"));
    service = join(dir, "service.js");
    parent = join(dir, "parent.js");
    await writeFile(service, SERVICE);
    await writeFile(parent, PARENT);
  });
  afterAll(async () => {
    for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  function run(script: string, args: string[], env: Record<string, string>) {
    const proc = spawn(process.execPath, [script, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(proc);
    const lines: string[] = [];
    const waiters: { match: RegExp; resolve: (line: string) => void }[] = [];
    for (const s of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: s }).on("line", (line) => {
        lines.push(line);
        for (const w of waiters.filter((x) => x.match.test(line))) w.resolve(line);
      });
    }
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      proc.on("close", (code, signal) => resolve({ code, signal })),
    );
    const line = (match: RegExp) => {
      const seen = lines.find((l) => match.test(l));
      return seen !== undefined ? Promise.resolve(seen) : new Promise<string>((resolve) => waiters.push({ match, resolve }));
    };
    return { proc, lines, exited, line };
  }

  it("exits at once on a second signal while its shutdown is still running", async () => {
    const s = run(service, [], { STARTUP_MS: "0", SHUTDOWN_MS: "never" });
    await s.line(/"msg":"ready"/);
    s.proc.kill("SIGTERM");
    await s.line(/"msg":"shutting down"/);
    const second = Date.now();
    s.proc.kill("SIGTERM");
    expect(await s.exited).toEqual({ code: 1, signal: null });
    expect(Date.now() - second).toBeLessThan(1000);
  });

  it.each([
    ["runs its shutdown and exits", "running", { STARTUP_MS: "0", SHUTDOWN_MS: "200" }, /"msg":"ready"/, /"msg":"stopped"/],
    [
      "exits",
      "still starting",
      { STARTUP_MS: "3000", SHUTDOWN_MS: "0" },
      /"msg":"starting"/,
      /"msg":"parent gone while starting; exiting"/,
    ],
  ])("%s when the parent that started it dies while it is %s", async (_what, _when, env, before, after) => {
    const p = run(parent, [service], env);
    const pid = Number((await p.line(/^child \d+$/)).split(" ")[1]);
    await p.line(before);
    p.proc.kill("SIGKILL");
    const killed = Date.now();
    await waitGone(pid, 5000);
    expect(Date.now() - killed).toBeLessThan(2000);
    await p.line(after);
  });

  it("still exits by itself when it has nothing left to do, with the channel open", async () => {
    await writeFile(
      join(dir, "done.js"),
      `
      const { runMain } = require(${JSON.stringify(join(dist, "process.js"))});
      const { createLogger } = require(${JSON.stringify(join(dist, "logger.js"))});
      runMain(createLogger("one-shot"), async () => { process.stdout.write("done\\n"); });
    `,
    );
    const s = run(parent, [join(dir, "done.js")], {});
    const pid = Number((await s.line(/^child \d+$/)).split(" ")[1]);
    await s.line(/^done$/);
    await waitGone(pid, 2000);
    s.proc.kill("SIGKILL");
  });
});

/** Resolves once the process has exited (a zombie nobody reaped counts as exited); throws after timeoutMs. */
async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "latin1"))) return;
    } catch {
      return;
    }
    if (Date.now() > deadline) {
      process.kill(pid, "SIGKILL");
      throw new Error(`process ${pid} still ran ${timeoutMs} ms later`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
