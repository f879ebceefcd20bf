import { readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PrivateMariaDb } from "./private-mariadb";

// Tests that run private servers run side by side with each other and with the shared server.
// A mariadbd starting removes the "#sql*" files of its tmpdir; a private one must never reach
// another server's (CI failed once when one test's server starting removed another's bootstrap
// temp tables from /tmp).
test("a private MariaDB starting leaves other servers' temporary tables in the system tmpdir alone", async () => {
  const others = join(tmpdir(), `#sql-temptable-minis3-probe-${process.pid}-1.MAI`);
  await writeFile(others, "another server's temp table");
  const db = await PrivateMariaDb.create();
  try {
    expect(await readdir(tmpdir())).toContain(`#sql-temptable-minis3-probe-${process.pid}-1.MAI`);
  } finally {
    await db.destroy();
    await rm(others, { force: true });
  }
});
