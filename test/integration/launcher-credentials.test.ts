import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readConfig } from "../../services/common/config";
import { CLUSTER_SECRET_FILE, CREDENTIALS_FILE, launcherCredentials, readKeyPair } from "../../deploy/launcher/credentials";

// `npm start` runs with credentials it makes on first start and keeps in the data dir (issue 14 item 4).

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "minis3-creds-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("a cluster secret is made on first start, kept owner-only, and reused by the next start", () => {
  const first = launcherCredentials({}, join(dir, "data"));
  const secret = first.env.MINIS3_CLUSTER_SECRET;
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(readConfig(["clusterSecret"], { MINIS3_CLUSTER_SECRET: secret }).clusterSecret).toBe(secret); // a valid setting
  expect(first.notes.join("\n")).toContain(CLUSTER_SECRET_FILE);
  expect(statSync(join(dir, "data", CLUSTER_SECRET_FILE)).mode & 0o777).toBe(0o600);

  const again = launcherCredentials({}, join(dir, "data"));
  expect(again.env.MINIS3_CLUSTER_SECRET).toBe(secret);
  expect(again.notes).toEqual([]);

  expect(launcherCredentials({}, join(dir, "other")).env.MINIS3_CLUSTER_SECRET).not.toBe(secret);
});

test("a secret the user configured is used as it is, and nothing is written", () => {
  const r = launcherCredentials({ MINIS3_CLUSTER_SECRET: "the-users-own-secret-value" }, join(dir, "data"));
  expect(r.env.MINIS3_CLUSTER_SECRET).toBeUndefined(); // the user's env reaches the children unchanged
  expect(() => statSync(join(dir, "data", CLUSTER_SECRET_FILE))).toThrow();
});

test("a key pair is made on first start (AWS-shaped, owner-only), passed to the children, and reused", () => {
  const first = launcherCredentials({}, join(dir, "data"));
  const pair = first.keyPair!;
  expect(pair.accessKey).toMatch(/^[A-Z0-9]{20}$/);
  expect(pair.secretKey).toMatch(/^[A-Za-z0-9]{40}$/);
  expect(first.env).toMatchObject({ MINIS3_ACCESS_KEY: pair.accessKey, MINIS3_SECRET_KEY: pair.secretKey });
  expect(first.notes.join("\n")).toContain(CREDENTIALS_FILE);
  expect(statSync(join(dir, "data", CREDENTIALS_FILE)).mode & 0o777).toBe(0o600);
  expect(readKeyPair(join(dir, "data"))).toEqual(pair);
  // The coordinator accepts what was made (its settings check).
  expect(readConfig(["accessKey", "secretKey"], first.env)).toEqual(pair);

  const again = launcherCredentials({}, join(dir, "data"));
  expect(again.keyPair).toEqual(pair);
  expect(again.env.MINIS3_ACCESS_KEY).toBe(pair.accessKey);
});

test("keys the user configured are used as they are: nothing is made", () => {
  const own = launcherCredentials({ MINIS3_ACCESS_KEY: "AKUSER", MINIS3_SECRET_KEY: "user-secret-123" }, join(dir, "data"));
  expect(own.keyPair).toEqual({ accessKey: "AKUSER", secretKey: "user-secret-123" });
  expect(own.env.MINIS3_ACCESS_KEY).toBeUndefined();
  const file = launcherCredentials({ MINIS3_KEYS_FILE: "/etc/minis3/keys.json" }, join(dir, "data"));
  expect(file.keyPair).toBeUndefined();
  expect(readKeyPair(join(dir, "data"))).toBeUndefined();
});
