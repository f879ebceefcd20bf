import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// `npm start -- --help` once started a whole cluster on the default ports (the launcher ignored its
// arguments). It must answer and start nothing.
const LAUNCHER = resolve(__dirname, "../../dist/deploy/launcher/main.js");

const dataDirs: string[] = [];
afterAll(() => {
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
});

function launch(args: string[]) {
  const dataDir = mkdtempSync(join(tmpdir(), "minis3-launcher-args-"));
  dataDirs.push(dataDir);
  // A shape that cannot run: a launcher that went past its arguments stops at its settings
  // (status 2) instead of starting processes.
  const env = { ...process.env, MINIS3_DATA_DIR: dataDir, MINIS3_STORAGE_NODES: "0" };
  const run = spawnSync(process.execPath, [LAUNCHER, ...args], { env, encoding: "utf8", timeout: 30_000, killSignal: "SIGKILL" });
  return { ...run, dataDir };
}

describe("the launcher's arguments", () => {
  it("--help prints every setting with its default, exits 0 and starts nothing", () => {
    const run = launch(["--help"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^usage: /);
    expect(run.stdout).toContain("MINIS3_NODE_BASE_PORT=7100");
    expect(run.stdout).toContain("MINIS3_MYSQL_URL=mysql://root@127.0.0.1:3306/minis3");
    expect(readdirSync(run.dataDir)).toEqual([]);
  });

  it("refuses an argument it does not know, with status 2, and starts nothing", () => {
    const run = launch(["--storage-nodes", "5"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/unexpected argument "--storage-nodes".*environment variables/);
    expect(readdirSync(run.dataDir)).toEqual([]);
  });
});
