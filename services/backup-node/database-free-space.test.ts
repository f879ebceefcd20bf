import { statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseFreeBytes, freeBytesAt } from "./database-free-space";

// A backup node's free space: its MariaDB data directory's filesystem when it is on this host,
// null (unknown, never 0) when it is not.

const answering = (dir: unknown, db: unknown) => ({ query: async () => [[{ dir, db }]] }) as never;

test("MariaDB on this host: the free bytes of the filesystem holding the database's folder", async () => {
  const fs = await statfs(tmpdir());
  const free = await databaseFreeBytes(answering(join(tmpdir(), ".."), tmpdir().split("/").pop()));
  // the same filesystem, a moment apart
  expect(free).toBeGreaterThan(0);
  expect(Math.abs(free! - fs.bavail * fs.bsize)).toBeLessThan(1 << 30);
});

test("MariaDB elsewhere (its data directory is not here), or no database chosen: null", async () => {
  expect(await databaseFreeBytes(answering("/var/lib/mysql-on-another-host", "minis3"))).toBeNull();
  expect(await databaseFreeBytes(answering("/var/lib/mysql", null))).toBeNull();
  expect(await freeBytesAt(join(tmpdir(), "no-such-folder-for-minis3"))).toBeNull();
});
