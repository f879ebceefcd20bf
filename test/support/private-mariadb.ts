import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createConnection } from "mysql2/promise";
import { findFreePortBlock } from "../../deploy/launcher/ports";
import { waitFor } from "./wait";
import { stopChild } from "./stop-child";

// A MariaDB server of a test's own (its own data dir, port and socket), for tests that stop and
// start the database. The shared server on 3306 is never touched.
//
// Each server (and its bootstrap) has a tmpdir of its own: a mariadbd starting removes every
// "#sql*" file in its tmpdir, so with the default /tmp one test's server starting deleted another
// test's bootstrap temp tables (CI failed on "Unknown table 'mysql.tmp_proxies_priv'") and could
// do the same to the shared server's.

const run = promisify(execFile);

export class PrivateMariaDb {
  private proc?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** mysql://root@127.0.0.1:<port>, without a database (the cluster harness adds its own). */
  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}/minis3`;
  }

  /** Its server's temporary files: never the system tmpdir, shared with every other server. */
  get tmpDir(): string {
    return join(this.dir, "tmp");
  }

  /** Creates the data directory (about 5 s) and starts the server. */
  static async create(): Promise<PrivateMariaDb> {
    const dir = await mkdtemp(join(tmpdir(), "minis3-mariadb-"));
    const port = await findFreePortBlock(1);
    const db = new PrivateMariaDb(dir, port);
    await mkdir(db.tmpDir);
    await run("mariadb-install-db", [
      "--no-defaults",
      `--datadir=${join(dir, "data")}`,
      `--tmpdir=${db.tmpDir}`,
      "--user=root",
      "--skip-test-db",
      "--auth-root-authentication-method=normal",
    ]);
    await db.start();
    return db;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    // Grant tables skipped: root with no password from anywhere, like the shared server.
    this.proc = spawn(
      "mariadbd",
      [
        "--no-defaults",
        `--datadir=${join(this.dir, "data")}`,
        `--tmpdir=${this.tmpDir}`,
        `--port=${this.port}`,
        "--bind-address=127.0.0.1",
        `--socket=${join(this.dir, "sock")}`,
        `--pid-file=${join(this.dir, "pid")}`,
        "--user=root",
        "--skip-grant-tables",
        "--innodb-buffer-pool-size=32M",
        `--log-error=${join(this.dir, "error.log")}`,
      ],
      { stdio: "ignore" },
    );
    const proc = this.proc;
    proc.on("exit", () => {
      if (this.proc === proc) this.proc = undefined;
    });
    await waitFor(
      "private MariaDB answering",
      async () => {
        const c = await createConnection({ host: "127.0.0.1", port: this.port, user: "root" });
        await c.end();
        return true;
      },
      30_000,
      100,
    );
  }

  /** A clean shutdown (SIGTERM), waiting until the process has gone. */
  async stop(): Promise<void> {
    await stopChild(this.proc);
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
