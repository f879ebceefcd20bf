import { randomBytes } from "node:crypto";
import { createPool, type Pool, type RowDataPacket } from "mysql2/promise";
import { TcpProxy } from "../../test/support/tcp-proxy";
import { MysqlBackupBackend } from "./backup-backend";
import { countRows, openTestDb, readAll, writeBlob, type TestDb } from "./test-support";

// A streamed write's commit is one transaction; its COMMIT may take effect in MariaDB while its
// answer never reaches the backup node (the connection cut, MariaDB killed after the commit's
// fsync). The writer then sees an error and discards "its unfinished copy": purgeCopy deletes every
// chunk row of the copy and then its blob row only if it is not complete, which it now is. What is
// left is a complete row with no chunks. The lifecycle retries the copy; the retry finds "an
// identical complete copy" (same size and sha256), keeps it, and answers success: the demotion
// commits and deletes the hot copies, and the only copy of the version has no bytes.

const NODE = "backup-ack";
const CHUNK = 64 * 1024;

/** A COM_QUERY packet (3-byte length, sequence id, 0x03) whose text is COMMIT. */
const isCommit = (chunk: Buffer) =>
  chunk.length >= 11 && chunk[4] === 0x03 && chunk.subarray(5, 11).toString("latin1").toUpperCase() === "COMMIT";

let db: TestDb;
let proxy: TcpProxy;
let proxied: Pool;

beforeAll(async () => {
  db = await openTestDb();
  proxy = new TcpProxy("127.0.0.1", 3306);
  await proxy.start();
  const [[row]] = await db.pool.query<RowDataPacket[]>("SELECT DATABASE() AS name");
  proxied = createPool({ host: "127.0.0.1", port: proxy.port, user: "root", database: String(row.name), connectionLimit: 4 });
});

afterAll(async () => {
  await proxied?.end().catch(() => undefined);
  await proxy?.stop();
  await db?.close();
});

test("a write whose COMMIT took effect but whose answer was lost never leaves a complete copy without its chunks", async () => {
  const data = randomBytes(3 * CHUNK + 5); // 4 chunk rows
  const viaProxy = new MysqlBackupBackend({ nodeId: NODE, pool: proxied, log: db.log, chunkBytes: CHUNK });
  await viaProxy.open();

  proxy.loseAnswerTo(isCommit);
  await expect(writeBlob(viaProxy, "v-demoted", data)).rejects.toBeDefined();
  expect(proxy.lostAnswers).toBe(1);

  // The failed write may leave nothing, or the copy it committed; never a row without its bytes.
  const [rows] = await db.pool.query<RowDataPacket[]>(
    "SELECT state, chunk_count FROM backup_blobs WHERE node_id = ? AND blob_id = 'v-demoted'",
    [NODE],
  );
  const [[chunks]] = await db.pool.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM backup_chunks WHERE node_id = ? AND blob_id = 'v-demoted'",
    [NODE],
  );
  const complete = rows.filter((r) => r.state === "complete");
  const leftByFailure = {
    completeRows: complete.length,
    chunksTheyName: complete.reduce((n, r) => n + Number(r.chunk_count), 0),
    chunkRows: Number(chunks.n),
  };

  // The lifecycle retries the copy (the hot copies are still there); once it is answered with
  // success, the demotion commits and the hot copies go: the cold copy must read back whole.
  const direct = await db.backend(NODE, { chunkBytes: CHUNK });
  const meta = await writeBlob(direct, "v-demoted", data);
  expect(meta.size).toBe(data.length); // acknowledged
  const readBack = await readAll((await direct.read("v-demoted", 0, undefined)).chunks).then(
    (b) => (b.equals(data) ? "the bytes written" : `${b.length} other bytes`),
    (e: Error) => `${e.name}: ${e.message}`,
  );
  const verdict = (await direct.verify("v-demoted")).verdict;
  expect({ leftByFailure, readBack, verdict }).toEqual({
    leftByFailure: { ...leftByFailure, chunkRows: leftByFailure.chunksTheyName },
    readBack: "the bytes written",
    verdict: "ok",
  });
  expect(await countRows(db.pool, NODE)).toEqual({ blobs: 1, chunks: 4 });
  await direct.close();
  await viaProxy.close();
}, 30_000);
