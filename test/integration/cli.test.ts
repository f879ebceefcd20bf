import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm as rmDir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { seededBytes } from "../support/bodies";
import { compiled } from "../support/compiled";

// The built `minis3` CLI (dist/cli/main.js, run as a child process as a user would) against a real
// cluster: every command, its --json output parsed, files checked byte for byte, and the exit codes
// README "Command line" documents. One cluster; the cases run in order and build on each other.

let cluster: TestCluster;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  dir = await mkdtemp(join(tmpdir(), "minis3-cli-"));
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
  if (dir) await rmDir(dir, { recursive: true, force: true });
}, 30_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI in `dir` with only the environment given (no MINIS3_* of the test's own), stdin from `input`. */
function minis3(args: string[], opts: { env?: Record<string, string>; input?: Buffer; keys?: boolean } = {}): Promise<Run> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: dir, MINIS3_CREDENTIALS_FILE: join(dir, "no-such-file") };
  if (opts.keys !== false) {
    Object.assign(env, { MINIS3_ENDPOINT: cluster.httpUrl, MINIS3_ACCESS_KEY: cluster.accessKey, MINIS3_SECRET_KEY: cluster.secretKey });
  }
  Object.assign(env, opts.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [compiled("cli/main.js"), ...args], { cwd: dir, env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }),
    );
    child.stdin.on("error", () => undefined); // a CLI that refuses its arguments exits before reading stdin (EPIPE)
    child.stdin.end(opts.input);
  });
}

/** Runs it with --json and parses stdout, failing with stderr when it did not exit 0. */
async function json<T = Record<string, unknown>>(args: string[], opts?: Parameters<typeof minis3>[1]): Promise<T> {
  const r = await minis3([...args, "--json"], opts);
  if (r.code !== 0) throw new Error(`minis3 ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const LARGE = seededBytes("cli-large", 5 * 1024 * 1024 + 123);

test("put a small file and a 5 MiB one; get both back byte for byte, checked against their sha256", async () => {
  await writeFile(join(dir, "hello.txt"), "hello from the CLI\n");
  const small = await minis3(["put", "hello.txt", "docs/hello.txt"]);
  expect(small).toMatchObject({ code: 0, stderr: "" });
  expect(small.stdout).toMatch(/^uploaded hello\.txt to default\/docs\/hello\.txt: 19 B/);

  await writeFile(join(dir, "large.bin"), LARGE);
  const up = await json<{ key: string; size: number; sha256: string }>(["put", "large.bin", "data/large.bin"]);
  expect(up).toMatchObject({ key: "data/large.bin", size: LARGE.length, sha256: sha256(LARGE) });

  const got = await json<{ file: string; size: number; sha256: string }>(["get", "data/large.bin", "large.copy"]);
  expect(got).toMatchObject({ file: "large.copy", size: LARGE.length, sha256: sha256(LARGE) });
  expect(sha256(await readFile(join(dir, "large.copy")))).toBe(sha256(LARGE));

  // to stdout, and the default destination (the key's last part, in the current directory)
  expect((await minis3(["get", "docs/hello.txt", "-"])).stdout).toBe("hello from the CLI\n");
  expect((await minis3(["get", "docs/hello.txt"])).code).toBe(0);
  expect(await readFile(join(dir, "hello.txt"), "utf8")).toBe("hello from the CLI\n");
});

test("put from stdin needs a key, and stores exactly what was piped in", async () => {
  const bytes = seededBytes("cli-stdin", 300_000);
  expect((await minis3(["put", "-"], { input: bytes })).code).toBe(1);
  const up = await json<{ size: number; sha256: string }>(["put", "-", "data/stdin.bin"], { input: bytes });
  expect(up).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
});

test("ls lists what was put, with sizes; --json is one document; stat --json has the object's facts", async () => {
  const list = await json<{ objects: { key: string; size: number; tier: string }[] }>(["ls"]);
  expect(list.objects.map((o) => [o.key, o.size])).toEqual([
    ["data/large.bin", LARGE.length],
    ["data/stdin.bin", 300_000],
    ["docs/hello.txt", 19],
  ]);
  const human = await minis3(["ls", "data/"]);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/ {2}5\.00 MiB {2}hot +data\/large\.bin\n/);
  expect(human.stdout).toMatch(/^2 objects, /m);

  const stat = await json<{
    key: string;
    size: number;
    tier: string;
    replicas: string[];
    contentType: string;
    next: { transition: string; due: string };
  }>(["stat", "docs/hello.txt"]);
  expect(stat).toMatchObject({ key: "docs/hello.txt", size: 19, tier: "hot", contentType: "text/plain; charset=utf-8" });
  expect(stat.replicas).toHaveLength(2);
  // the next lifecycle move: hot objects are demoted MINIS3_HOT_TTL (default 30 min) after their last read
  expect(stat.next.transition).toBe("demote");
  expect(Date.parse(stat.next.due)).toBeGreaterThan(Date.now());
  const statHuman = await minis3(["stat", "docs/hello.txt"]);
  expect(statHuman.stdout).toMatch(/^replicas: +storage-\d, storage-\d$/m);
  expect(statHuman.stdout).toMatch(/^next: +demote to cold, due \S+ \S+ \(in \d+ min/m);
});

test("rm moves an object to the trash, trash lists it, undelete brings it back byte for byte", async () => {
  const removed = await json<{ deleted: boolean; purgeAt: string }>(["rm", "data/large.bin"]);
  expect(removed.deleted).toBe(true);
  expect((await minis3(["get", "data/large.bin", "gone.bin"])).code).toBe(2);

  const inTrash = await json<{ entries: { key: string; versionId: string; size: number; reason: string }[] }>(["trash", "data/"]);
  expect(inTrash.entries).toEqual([expect.objectContaining({ key: "data/large.bin", size: LARGE.length, reason: "deleted" })]);
  expect((await minis3(["trash"])).stdout).toMatch(/data\/large\.bin {2}\(deleted, version /);
  // a trashed version's own schedule: its purge
  const trashed = await json<{ next: { transition: string } }>(["stat", "data/large.bin", "--version-id", inTrash.entries[0].versionId]);
  expect(trashed.next.transition).toBe("purge");

  const restored = await json<{ key: string; sha256: string }>(["undelete", "data/large.bin"]);
  expect(restored).toMatchObject({ key: "data/large.bin", sha256: sha256(LARGE) });
  expect((await minis3(["get", "data/large.bin", "restored.bin"])).code).toBe(0);
  expect(sha256(await readFile(join(dir, "restored.bin")))).toBe(sha256(LARGE));
});

test("status --json lists every node and the next transitions; the human form names them, the ring and what is due", async () => {
  const status = await json<{
    nodes: { id: string; kind: string; state: string }[];
    upcoming: { transition: string; due: string; key: string }[];
  }>(["status", "--upcoming", "500"]);
  expect(status.nodes.map((n) => n.id).sort()).toEqual(["backup-1", "delete-1", "storage-1", "storage-2", "storage-3"]);
  // data/large.bin, undeleted above, is hot again: its demotion is due one hot TTL (30 min) from then.
  const demotion = status.upcoming.find((u) => u.key === "data/large.bin" && u.transition === "demote");
  expect(Date.parse(demotion!.due)).toBeGreaterThan(Date.now() + 25 * 60_000);
  const human = await minis3(["status", "--upcoming", "500"]);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/^ring \(3 storage nodes\)\n {2}storage-1, storage-2, storage-3$/m);
  expect(human.stdout).toMatch(/^upcoming transitions, soonest first$/m);
  expect(human.stdout).toMatch(/^ {2}\S+ \S+ +in (29|30) min( \d+ s)? +demote +default +data\/large\.bin +hot /m);
  expect(await minis3(["status", "--upcoming", "501"])).toMatchObject({ code: 1 });
});

test("a missing key exits 2 with the server's message; a wrong secret exits 3; no credentials at all exits 1", async () => {
  const missing = await minis3(["stat", "no/such/key"]);
  expect(missing).toMatchObject({ code: 2, stdout: "" });
  expect(missing.stderr).toMatch(/^minis3: NotFound: .*no\/such\/key.*\(HTTP 404\)\n$/);

  const wrong = await minis3(["ls"], { env: { MINIS3_SECRET_KEY: "not-the-secret-0000000000" } });
  expect(wrong).toMatchObject({ code: 3, stdout: "" });
  expect(wrong.stderr).toMatch(/SignatureDoesNotMatch.*\(HTTP 401\)/);

  const none = await minis3(["ls"], { keys: false });
  expect(none.code).toBe(1);
  expect(none.stderr).toMatch(/no credentials: set MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY/);
  expect((await minis3(["get"])).code).toBe(1); // commander: missing argument
});

test("a profile file gives the endpoint and keys (--profile), and wins over the environment", async () => {
  const file = join(dir, "credentials");
  await writeFile(
    file,
    `# minis3 profiles\n[default]\nendpoint = http://127.0.0.1:1\naccess_key = nobody\nsecret_key = nothing-here\n\n` +
      `[test]\nendpoint = ${cluster.httpUrl}\naccess_key = ${cluster.accessKey}\nsecret_key = ${cluster.secretKey}\n`,
  );
  const env = { MINIS3_CREDENTIALS_FILE: file, MINIS3_ACCESS_KEY: "nobody", MINIS3_SECRET_KEY: "nothing-here" };
  const list = await json<{ objects: unknown[] }>(["ls", "--profile", "test"], { keys: false, env });
  expect(list.objects).toHaveLength(3);
  // without --profile: the environment's (wrong) keys, then the [default] profile's unreachable endpoint
  expect((await minis3(["ls"], { keys: false, env: { ...env, MINIS3_ENDPOINT: cluster.httpUrl } })).code).toBe(3);
  expect((await minis3(["ls"], { keys: false, env: { MINIS3_CREDENTIALS_FILE: file } })).code).toBe(5);
  expect((await minis3(["ls", "--profile", "nope"], { keys: false, env })).stderr).toMatch(
    /profile "nope" is not in .* \(it has: default, test\)/,
  );
});

test("chaos runs npm run chaos's checked workload at the CLI's endpoint, signed with the profile's keys; --json is the report alone", async () => {
  const env = { MINIS3_CREDENTIALS_FILE: join(dir, "credentials") }; // written by the profile case above
  const r = await minis3(["chaos", "--profile", "test", "--duration", "2s", "--concurrency", "2", "--json"], { keys: false, env });
  expect(r.stderr).toMatch(/PASSED/);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as { targets: string[]; lost: number; wrong: number; workload: unknown };
  expect(report).toMatchObject({ targets: [cluster.httpUrl], lost: 0, wrong: 0 });
  // the CLI's own exit codes: usage 1, an endpoint that does not answer 5
  expect((await minis3(["chaos", "--bogus"])).code).toBe(1);
  expect((await minis3(["chaos", "--duration", "2s", "--endpoint", "http://127.0.0.1:1"])).code).toBe(5);
});
