import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Supervisor } from "../../deploy/launcher/supervisor";
import type { ProcessSpec } from "../../deploy/launcher/plan";
import { makeStubRoot } from "../support/stubs";

// The supervisor on its own, with the stub service: output prefixing, SIGKILL after the grace period,
// and no restart loop for a process whose configuration is invalid.

describe("Supervisor", () => {
  let root: string;
  const spec = (name: string, env: Record<string, string>): ProcessSpec => ({
    name,
    kind: "storage",
    script: join(root, "dist/services/storage-node/main.js"),
    env: { PATH: process.env.PATH ?? "", MINIS3_HOST: "127.0.0.1", MINIS3_NODE_ID: name, MINIS3_NODE_PORT: "0", ...env },
    port: 0,
    address: "",
  });

  beforeAll(async () => {
    root = await makeStubRoot();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("delivers each output line with the process's name, and stops with SIGTERM", async () => {
    const lines: string[] = [];
    const sup = new Supervisor([spec("storage-7", {})], {
      onLine: (name, stream, line) => lines.push(`${name}/${stream}: ${line}`),
      onNotice: () => undefined,
    });
    sup.startAll();
    await waitFor(() => lines.some((l) => l.includes("listening")));
    expect(await sup.stop("storage-7")).toEqual({ code: 0, signal: null });
    expect(lines[0]).toMatch(/^storage-7\/stdout: \{"msg":"listening","id":"storage-7"/);
    expect(lines.at(-1)).toBe("storage-7/stdout: stopping");
    await sup.stopAll();
  });

  it("sends SIGKILL when a process ignores SIGTERM for the grace period", async () => {
    const notices: string[] = [];
    const lines: string[] = [];
    const sup = new Supervisor([spec("stubborn", { STUB_BEHAVIOUR: "ignore-sigterm" })], {
      graceMs: 300,
      onLine: (_n, _s, l) => lines.push(l),
      onNotice: (m) => notices.push(m),
    });
    sup.startAll();
    await waitFor(() => lines.some((l) => l.includes("listening")));
    const started = Date.now();
    await sup.stopAll();
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(sup.status()[0].lastExit).toEqual({ code: null, signal: "SIGKILL" });
    expect(lines).toContain("ignoring SIGTERM");
    expect(notices.join()).toMatch(/sending SIGKILL/);
  });

  it("restarts a process killed by a signal after the first delay each time, without growing it", async () => {
    const notices: string[] = [];
    let listening = 0;
    const sup = new Supervisor([spec("storage-8", {})], {
      initialBackoffMs: 20,
      onLine: (_n, _s, l) => (listening += l.includes("listening") ? 1 : 0),
      onNotice: (m) => notices.push(m),
    });
    sup.startAll();
    for (let kill = 1; kill <= 3; kill++) {
      await waitFor(() => listening === kill, 30_000);
      process.kill(sup.pid("storage-8")!, "SIGKILL");
    }
    await waitFor(() => listening === 4, 30_000);
    expect(notices.filter((n) => n.includes("exited unexpectedly"))).toEqual(
      Array.from({ length: 3 }, () => "storage-8 exited unexpectedly with signal SIGKILL; restarting in 20 ms"),
    );
    await sup.stopAll();
  });

  it("does not restart a process that exits with the invalid-configuration status", async () => {
    const sup = new Supervisor([spec("misconfigured", { STUB_BEHAVIOUR: "config-error" })], {
      initialBackoffMs: 20,
      onLine: () => undefined,
      onNotice: () => undefined,
    });
    const fatal = new Promise<string>((resolve) => sup.on("fatal", (name: string) => resolve(name)));
    sup.startAll();
    expect(await fatal).toBe("misconfigured");
    await new Promise((r) => setTimeout(r, 200));
    expect(sup.status()[0]).toMatchObject({ running: false, restarts: 0, lastExit: { code: 2, signal: null } });
    expect(sup.tail("misconfigured")).toEqual(["minis3: invalid configuration"]);
    await sup.stopAll();
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
