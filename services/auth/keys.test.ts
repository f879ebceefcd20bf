import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readConfig } from "../common/config";
import { ErrorCode, hasCode } from "../common/errors";
import { checkBucketAccess, KeyStore, loadKeyStore, mayUseBucket } from "./keys";

const none = { accessKey: "", secretKey: "", keysFile: "" };

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function keysFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "minis3-keys-"));
  dirs.push(dir);
  const path = join(dir, "keys.json");
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("keys from configuration", () => {
  test("MINIS3_ACCESS_KEY / MINIS3_SECRET_KEY: one user allowed every bucket", () => {
    const c = readConfig(["accessKey", "secretKey", "keysFile"], { MINIS3_ACCESS_KEY: "AKMINIS3TEST", MINIS3_SECRET_KEY: "s3cr3t-s3cr3t" });
    const store = loadKeyStore(c)!;
    expect(store.lookup("AKMINIS3TEST")).toEqual({
      identity: { user: "AKMINIS3TEST", accessKey: "AKMINIS3TEST", buckets: "*" },
      secretKey: "s3cr3t-s3cr3t",
    });
    expect(store.lookup("AKOTHER")).toBeUndefined();
  });

  test("nothing configured: no store (the launcher makes a key)", () => {
    expect(loadKeyStore(readConfig(["accessKey", "secretKey", "keysFile"], {}))).toBeUndefined();
  });

  test("a half-set pair, both forms at once, a short secret or a bad access key are refused, naming the variable", () => {
    expect(() => loadKeyStore({ ...none, accessKey: "AKMINIS3TEST" })).toThrow(/MINIS3_SECRET_KEY/);
    expect(() => loadKeyStore({ accessKey: "AKMINIS3TEST", secretKey: "s3cr3t-s3cr3t", keysFile: "/k.json" })).toThrow(/MINIS3_KEYS_FILE/);
    expect(() => loadKeyStore({ ...none, accessKey: "AKMINIS3TEST", secretKey: "short" })).toThrow(/MINIS3_SECRET_KEY/);
    expect(() => readConfig(["accessKey"], { MINIS3_ACCESS_KEY: "has space" })).toThrow(/MINIS3_ACCESS_KEY/);
  });

  test("MINIS3_KEYS_FILE: several users, each with keys and buckets (names and prefix* patterns)", () => {
    const path = keysFile({
      users: [
        {
          name: "alice",
          keys: [
            { accessKey: "AKALICE1", secretKey: "alice-secret-1" },
            { accessKey: "AKALICE2", secretKey: "alice-secret-2" },
          ],
          buckets: "*",
        },
        { name: "bob", keys: [{ accessKey: "AKBOB", secretKey: "bob-secret" }], buckets: ["photos", "logs-*"] },
      ],
    });
    const store = loadKeyStore({ ...none, keysFile: path })!;
    expect(store.size).toBe(3);
    expect(store.lookup("AKALICE2")?.identity).toEqual({ user: "alice", accessKey: "AKALICE2", buckets: "*" });
    const bob = store.lookup("AKBOB")!.identity;
    expect(mayUseBucket(bob, "photos")).toBe(true);
    expect(mayUseBucket(bob, "logs-2026")).toBe(true);
    expect(mayUseBucket(bob, "photos2")).toBe(false);
    expect(mayUseBucket(bob, "logs")).toBe(false);
    let err: unknown;
    try {
      checkBucketAccess(bob, "private");
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, ErrorCode.AccessDenied)).toBe(true);
  });

  test("a keys file that is missing, not JSON, of the wrong shape or with a key twice is refused, naming the variable", () => {
    expect(() => loadKeyStore({ ...none, keysFile: "/nonexistent/keys.json" })).toThrow(/MINIS3_KEYS_FILE/);
    expect(() => loadKeyStore({ ...none, keysFile: keysFile("{ users: ") })).toThrow(/MINIS3_KEYS_FILE/);
    expect(() => loadKeyStore({ ...none, keysFile: keysFile({ users: [{ name: "x", keys: [], buckets: "*" }] }) })).toThrow(
      /users\.0\.keys/,
    );
    const twice = { users: ["a", "b"].map((name) => ({ name, keys: [{ accessKey: "AKSAME", secretKey: "same-secret" }], buckets: "*" })) };
    expect(() => loadKeyStore({ ...none, keysFile: keysFile(twice) })).toThrow(/AKSAME.*twice/);
    expect(() => KeyStore.fromFileContent({ users: [] })).toThrow(/users/);
  });

  test("every problem of a keys file is named by its path, all at once", () => {
    const bad = {
      users: [
        { name: "", keys: [{ accessKey: "a b", secretKey: "short" }], buckets: "*" },
        { name: "ok", keys: "none", buckets: ["", "b"] },
        { name: "ok2", keys: [{ accessKey: "AKOK", secretKey: "long-enough" }], buckets: 7 },
        "x",
      ],
    };
    let message = "";
    try {
      KeyStore.fromFileContent(bad);
    } catch (e) {
      message = (e as Error).message;
    }
    for (const path of [
      "users.0.name",
      "users.0.keys.0.accessKey",
      "users.0.keys.0.secretKey",
      "users.1.keys",
      "users.1.buckets.0",
      "users.2.buckets",
      "users.3",
    ])
      expect(message).toContain(`${path}: `);
    expect(message).not.toContain("users.1.buckets.1");
    expect(() => KeyStore.fromFileContent([])).toThrow(/\(top\): expected an object/);
  });
});
