import { randomBytes } from "node:crypto";
import pino from "pino";
import type { DataSource } from "typeorm";
import { openDataSource, sqlPool } from "../../common/db/datasource";
import { committedDespiteError, type FailedCommitDeps } from "./failed-commit";

// An upload whose catalogue commit failed: its copies are deleted only when the commit surely did
// not happen (review finding 19, "ambiguous commit"). The errors are real ones from MariaDB and the
// driver: a statement the server refused, and a connection cut at the command deadline while the
// server was still working (as a COMMIT can be, and land after the check that follows it).

const name = `minis3_t_${randomBytes(6).toString("hex")}`;
let ds: DataSource;

beforeAll(async () => {
  ds = await openDataSource({ url: `mysql://root@127.0.0.1:3306/${name}`, poolSize: 2, commandTimeoutMs: 300 });
});

afterAll(async () => {
  try {
    await ds.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await ds.destroy();
  }
});

const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => {
      throw new Error("expected the statement to fail");
    },
    (e: unknown) => e,
  );

function deps(row: unknown): FailedCommitDeps & { discarded: string[][] } {
  const discarded: string[][] = [];
  return {
    discarded,
    version: async () => row,
    discard: async (_id, replicas) => {
      discarded.push(replicas);
    },
    log: pino({ level: "silent" }),
  };
}

test("a commit cut off by its connection (no answer within the deadline) keeps the copies: it may still land", async () => {
  const cut = await failure(sqlPool(ds).query("SELECT SLEEP(2)"));
  const d = deps(null);
  expect(await committedDespiteError(d, "v1", ["s1", "s2"], cut, undefined)).toBe(false);
  expect(d.discarded).toEqual([]);
});

test("a commit the server refused, and whose row is not there, discards the copies", async () => {
  const refused = await failure(sqlPool(ds).query("SELECT * FROM no_such_table"));
  const d = deps(null);
  expect(await committedDespiteError(d, "v1", ["s1", "s2"], refused, undefined)).toBe(false);
  expect(d.discarded).toEqual([["s1", "s2"]]);
});

test("a commit that failed but whose row is there counts as committed, whatever the error", async () => {
  const cut = await failure(sqlPool(ds).query("SELECT SLEEP(2)"));
  const d = deps({ versionId: "v1" });
  expect(await committedDespiteError(d, "v1", ["s1", "s2"], cut, undefined)).toBe(true);
  expect(d.discarded).toEqual([]);
});

test("when the row cannot be looked at, the copies stay and the upload fails", async () => {
  const d = { ...deps(null), version: () => Promise.reject(new Error("catalogue away")) };
  expect(await committedDespiteError(d, "v1", ["s1"], new Error("x"), undefined)).toBe(false);
  expect(d.discarded).toEqual([]);
});
