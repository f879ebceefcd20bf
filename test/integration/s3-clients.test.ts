import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { seededBytes, sha256 } from "../support/bodies";
import { cliRunner } from "../support/s3";

// Stock command-line S3 clients against a real cluster: the aws cli and rclone (each skipped with
// a message when not installed). Small files: multipart has its own tests.

let cluster: TestCluster;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  dir = await mkdtemp(join(tmpdir(), "minis3-clients-"));
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

async function tree(root: string, files: Record<string, Buffer>): Promise<void> {
  for (const [name, bytes] of Object.entries(files)) {
    await mkdir(join(root, name, ".."), { recursive: true });
    await writeFile(join(root, name), bytes);
  }
}

async function listTree(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listTree(root, rel)));
    else out.push(rel);
  }
  return out.sort();
}

function awsEnv(home: string, secret: string): Record<string, string> {
  return {
    HOME: home,
    AWS_ACCESS_KEY_ID: cluster.accessKey,
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_CONFIG_FILE: join(home, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
  };
}

test("aws cli: mb, cp up and down, ls, sync (with --delete), head-object, presign, rm --recursive, rb; a wrong secret is refused", async () => {
  const home = join(dir, "aws-home");
  await mkdir(home, { recursive: true });
  const run = await cliRunner("aws", awsEnv(home, cluster.secretKey));
  if (!run) {
    process.stdout.write("aws cli not installed: skipping the aws cli test\n");
    return;
  }
  const aws = (...args: string[]) => run("--endpoint-url", cluster.s3Url, ...args);
  await aws("s3", "mb", "s3://cli-bucket");
  const up = join(dir, "up.bin");
  const bytes = seededBytes("aws-cli", 700_000);
  await writeFile(up, bytes);
  await aws("s3", "cp", up, "s3://cli-bucket/one/up.bin");
  const down = join(dir, "down.bin");
  await aws("s3", "cp", "s3://cli-bucket/one/up.bin", down);
  expect(sha256(await readFile(down))).toBe(sha256(bytes));
  const head = JSON.parse((await aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "one/up.bin")).stdout);
  expect(head.ContentLength).toBe(bytes.length);
  expect(head.ETag).toMatch(/^"[0-9a-f]{32}"$/);

  const local = join(dir, "sync-src");
  await tree(local, { "a.txt": Buffer.from("a"), "sub/b.txt": Buffer.from("b"), "sub/deeper/c.txt": Buffer.from("c") });
  await aws("s3", "sync", local, "s3://cli-bucket/synced");
  const listed = (await aws("s3", "ls", "--recursive", "s3://cli-bucket/synced/")).stdout;
  for (const k of ["synced/a.txt", "synced/sub/b.txt", "synced/sub/deeper/c.txt"]) expect(listed).toContain(k);
  const top = (await aws("s3", "ls", "s3://cli-bucket/synced/")).stdout;
  expect(top).toContain("PRE sub/");
  await rm(join(local, "sub/b.txt"));
  await aws("s3", "sync", "--delete", local, "s3://cli-bucket/synced");
  expect((await aws("s3", "ls", "--recursive", "s3://cli-bucket/synced/")).stdout).not.toContain("sub/b.txt");

  // aws s3 presign: aws cli v1 signs with Signature V2 unless told s3v4 (the launcher's hint says so); such a URL
  // is refused saying how, a SigV4 one serves the object.
  const presignedV4 = await cliRunner("aws", { ...awsEnv(home, cluster.secretKey), AWS_CONFIG_FILE: join(home, "config-s3v4") });
  await writeFile(join(home, "config-s3v4"), "[default]\ns3 =\n    signature_version = s3v4\n");
  const v4url = (
    await presignedV4!("--endpoint-url", cluster.s3Url, "s3", "presign", "s3://cli-bucket/one/up.bin", "--expires-in", "60")
  ).stdout.trim();
  expect(v4url).toContain("X-Amz-Signature=");
  const fetched = await fetch(v4url);
  expect(fetched.status).toBe(200);
  expect(sha256(Buffer.from(await fetched.arrayBuffer()))).toBe(sha256(bytes));
  const defaultUrl = (await aws("s3", "presign", "s3://cli-bucket/one/up.bin", "--expires-in", "60")).stdout.trim();
  if (defaultUrl.includes("AWSAccessKeyId=")) {
    const refused = await fetch(defaultUrl);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("aws configure set s3.signature_version s3v4");
  }

  const wrong = await cliRunner("aws", awsEnv(home, "definitely-not-it"));
  await expect(wrong!("--endpoint-url", cluster.s3Url, "s3", "ls", "s3://cli-bucket")).rejects.toThrow(/SignatureDoesNotMatch/);
  await expect(wrong!("--endpoint-url", cluster.s3Url, "s3", "rm", "s3://cli-bucket/one/up.bin")).rejects.toThrow();
  expect((await aws("s3", "ls", "s3://cli-bucket/one/")).stdout).toContain("up.bin");

  await aws("s3", "rm", "--recursive", "s3://cli-bucket");
  expect((await aws("s3", "ls", "--recursive", "s3://cli-bucket")).stdout.trim()).toBe("");
  await aws("s3", "rb", "s3://cli-bucket");
  expect((await aws("s3", "ls")).stdout).not.toContain("cli-bucket");
}, 180_000);

test("rclone: copy a tree up and down with checksums, sync with deletes, server-side move, purge", async () => {
  const env = {
    HOME: join(dir, "rclone-home"),
    RCLONE_CONFIG: join(dir, "rclone.conf"),
    RCLONE_CONFIG_M_TYPE: "s3",
    RCLONE_CONFIG_M_PROVIDER: "Other",
    RCLONE_CONFIG_M_ENDPOINT: cluster.s3Url,
    RCLONE_CONFIG_M_ACCESS_KEY_ID: cluster.accessKey,
    RCLONE_CONFIG_M_SECRET_ACCESS_KEY: cluster.secretKey,
    RCLONE_CONFIG_M_REGION: "us-east-1",
    RCLONE_CONFIG_M_FORCE_PATH_STYLE: "true",
  };
  const rclone = await cliRunner("rclone", env);
  if (!rclone) {
    process.stdout.write("rclone not installed: skipping the rclone test\n");
    return;
  }
  const src = join(dir, "rc-src");
  await tree(src, { "x.bin": seededBytes("rc-x", 300_000), "d/y.txt": Buffer.from("y"), "d/z.txt": Buffer.from("z") });
  await rclone("mkdir", "m:rc-bucket");
  await rclone("copy", "--checksum", src, "m:rc-bucket/tree");
  await rclone("check", src, "m:rc-bucket/tree"); // sizes and md5 on both sides
  const back = join(dir, "rc-back");
  await rclone("copy", "--checksum", "m:rc-bucket/tree", back);
  expect(await listTree(back)).toEqual(["d/y.txt", "d/z.txt", "x.bin"]);
  expect(sha256(await readFile(join(back, "x.bin")))).toBe(sha256(await readFile(join(src, "x.bin"))));

  await rm(join(src, "d/z.txt"));
  await rclone("sync", src, "m:rc-bucket/tree");
  expect((await rclone("lsf", "-R", "m:rc-bucket/tree")).stdout.split("\n").filter(Boolean).sort()).toEqual(["d/", "d/y.txt", "x.bin"]);

  await rclone("moveto", "m:rc-bucket/tree/x.bin", "m:rc-bucket/moved/x.bin"); // server-side copy, then delete
  const files = (await rclone("lsf", "-R", "m:rc-bucket")).stdout;
  expect(files).toContain("moved/x.bin");
  expect(files).not.toContain("tree/x.bin");

  await rclone("purge", "m:rc-bucket");
  expect((await rclone("lsd", "m:")).stdout).not.toContain("rc-bucket");
}, 180_000);
