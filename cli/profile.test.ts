import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliError, EXIT } from "./exit-codes";
import { parseProfiles, resolveTarget } from "./profile";

// Where minis3 finds its endpoint and keys: the order README "Command line" documents.

const dir = mkdtempSync(join(tmpdir(), "minis3-profile-"));
const file = join(dir, "credentials");
writeFileSync(
  file,
  `; comment\n[default]\naccess_key = AKDEFAULT\nsecret_key = default-secret\n\n[profile prod]\nendpoint = https://s3.example.com/\naccess_key=AKPROD\nsecret_key=prod-secret\n`,
);
const dataDir = join(dir, "data");
const base = { MINIS3_CREDENTIALS_FILE: file, MINIS3_DATA_DIR: dataDir };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function code(f: () => unknown): number | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof CliError) return e.exitCode;
    throw e;
  }
}

test("INI profiles (with AWS's [profile name] form) and JSON profiles read alike", () => {
  expect(parseProfiles(`[a]\nendpoint = http://x:1\naccess_key = K\nsecret_key = S\n`, "f").get("a")).toEqual({
    endpoint: "http://x:1",
    accessKey: "K",
    secretKey: "S",
  });
  expect(parseProfiles(`{"a": {"endpoint": "http://x:1", "accessKey": "K", "secretKey": "S"}}`, "f").get("a")).toEqual({
    endpoint: "http://x:1",
    accessKey: "K",
    secretKey: "S",
  });
  expect(code(() => parseProfiles("access_key = K\n", "f"))).toBe(EXIT.usage); // outside a section
});

test("--profile wins over the environment; the environment over the [default] profile; the endpoint flag over all", () => {
  const env = { ...base, MINIS3_ACCESS_KEY: "AKENV", MINIS3_SECRET_KEY: "env-secret" };
  expect(resolveTarget({ profile: "prod" }, env)).toMatchObject({ endpoint: "https://s3.example.com", keys: { accessKey: "AKPROD" } });
  expect(resolveTarget({}, { ...env, MINIS3_PROFILE: "prod" }).keys.accessKey).toBe("AKPROD");
  expect(resolveTarget({}, env)).toMatchObject({ endpoint: "http://127.0.0.1:8080", keys: { accessKey: "AKENV" } });
  expect(resolveTarget({}, base).keys.accessKey).toBe("AKDEFAULT");
  expect(resolveTarget({ profile: "prod", endpoint: "http://other:9/" }, env).endpoint).toBe("http://other:9");
  expect(resolveTarget({ profile: "prod" }, { ...env, MINIS3_ENDPOINT: "http://envpoint:1" }).endpoint).toBe("http://envpoint:1");
});

test("without a profile file or environment keys: npm start's ./data/credentials.json; nothing at all is a usage error", () => {
  const env = { MINIS3_CREDENTIALS_FILE: join(dir, "absent"), MINIS3_DATA_DIR: dataDir };
  expect(code(() => resolveTarget({}, env))).toBe(EXIT.usage);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, "credentials.json"), JSON.stringify({ accessKey: "AKDATA", secretKey: "data-secret" }));
  expect(resolveTarget({}, env).keys.accessKey).toBe("AKDATA");
});

test("half a key pair, an unknown profile or a bad endpoint is a usage error that says what is wrong", () => {
  expect(() => resolveTarget({}, { ...base, MINIS3_ACCESS_KEY: "AK" })).toThrow(/set both MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY/);
  expect(() => resolveTarget({ profile: "nope" }, base)).toThrow(/profile "nope" is not in .* \(it has: default, prod\)/);
  expect(() => resolveTarget({ endpoint: "ftp://x" }, base)).toThrow(/not an http\(s\) URL/);
  expect(code(() => resolveTarget({ endpoint: "not a url" }, base))).toBe(EXIT.usage);
});
