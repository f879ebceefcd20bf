import { randomBytes } from "node:crypto";
import type { RowDataPacket } from "mysql2/promise";
import { waitFor } from "../../test/support/wait";
import { compressibleBytes, countRows, expectSameBytes, MiB, readAll, sha256, useColdTier, writeBlob } from "./test-support";

const cold = useColdTier("backup-i");

async function corruptChunk(nodeId: string, blobId: string, seq: number, sql: string): Promise<void> {
  await cold.db.pool.query(`UPDATE backup_chunks SET ${sql} WHERE node_id = ? AND blob_id = ? AND seq = ?`, [nodeId, blobId, seq]);
}

test("a corrupted raw chunk fails the read with IntegrityError; other chunks still read", async () => {
  const data = randomBytes(2 * MiB + 10);
  await writeBlob(cold.backend, "bitrot-raw", data);
  // Flip one byte in the middle of chunk 1, keeping the length.
  await corruptChunk(
    "backup-i",
    "bitrot-raw",
    1,
    "data = CONCAT(LEFT(data, 1000), CHAR(ASCII(SUBSTRING(data, 1001, 1)) ^ 1), SUBSTRING(data, 1002))",
  );
  await expect(readAll((await cold.backend.read("bitrot-raw", 0, undefined)).chunks)).rejects.toMatchObject({ name: "IntegrityError" });
  await expect(readAll((await cold.backend.read("bitrot-raw", MiB + 5, 10)).chunks)).rejects.toMatchObject({ name: "IntegrityError" });
  expectSameBytes(await readAll((await cold.backend.read("bitrot-raw", 0, MiB)).chunks), data.subarray(0, MiB));
});

test("a corrupted or truncated deflated chunk fails with IntegrityError", async () => {
  const data = compressibleBytes(MiB + 500);
  await writeBlob(cold.backend, "bitrot-z", data);
  await corruptChunk("backup-i", "bitrot-z", 0, "data = REVERSE(data)");
  await expect(readAll((await cold.backend.read("bitrot-z", 0, undefined)).chunks)).rejects.toMatchObject({ name: "IntegrityError" });
  await corruptChunk("backup-i", "bitrot-z", 1, "data = LEFT(data, 10)");
  await expect(readAll((await cold.backend.read("bitrot-z", MiB, undefined)).chunks)).rejects.toMatchObject({ name: "IntegrityError" });
});

test("a missing chunk row is an IntegrityError, not a short read", async () => {
  const data = randomBytes(MiB * 2);
  await writeBlob(cold.backend, "lost-chunk", data);
  await cold.db.pool.query("DELETE FROM backup_chunks WHERE node_id = 'backup-i' AND blob_id = 'lost-chunk' AND seq = 1");
  await expect(readAll((await cold.backend.read("lost-chunk", 0, undefined)).chunks)).rejects.toMatchObject({ name: "IntegrityError" });
});

test("a whole-blob read checks the blob's sha256 at the end (chunks intact, wrong digest recorded)", async () => {
  const data = randomBytes(MiB + 50);
  await writeBlob(cold.backend, "wrong-digest", data);
  await cold.db.pool.execute("UPDATE backup_blobs SET sha256 = ? WHERE node_id = 'backup-i' AND blob_id = 'wrong-digest'", [
    sha256(Buffer.from("x")),
  ]);
  await expect(readAll((await cold.backend.read("wrong-digest", 0, undefined)).chunks)).rejects.toMatchObject({ name: "IntegrityError" });
  // A range cannot be checked against the whole digest, and its chunks are fine.
  expectSameBytes(await readAll((await cold.backend.read("wrong-digest", 10, MiB)).chunks), data.subarray(10, MiB + 10));
});

test("abort leaves no rows; a size or sha256 mismatch at commit leaves no rows either", async () => {
  const before = await countRows(cold.db.pool, "backup-i");
  const w = await cold.backend.beginWrite("aborted", {});
  await w.write(randomBytes(MiB + 100));
  await w.abort();
  await w.abort(); // idempotent
  await expect(w.write(Buffer.from("late"))).rejects.toMatchObject({ name: "AbortedError" });

  const data = randomBytes(MiB + 1);
  const bad = await cold.backend.beginWrite("bad-sha", {});
  await bad.write(data);
  await expect(bad.commit(data.length, sha256(Buffer.from("something else")))).rejects.toMatchObject({ name: "IntegrityError" });
  const short = await cold.backend.beginWrite("bad-size", {});
  await short.write(data);
  await expect(short.commit(data.length + 1, sha256(data))).rejects.toMatchObject({ name: "IntegrityError" });

  expect(await countRows(cold.db.pool, "backup-i")).toEqual(before);
  for (const id of ["aborted", "bad-sha", "bad-size"]) expect(await cold.backend.stat(id)).toBeNull();
});

test("leftover 'writing' copies are removed at open, only this node's", async () => {
  const crashed = await cold.db.backend("backup-crash");
  const other = await cold.db.backend("backup-other");
  const w1 = await crashed.beginWrite("half-1", {});
  await w1.write(randomBytes(MiB + 7)); // one chunk on its way to a row, the rest staged
  const w2 = await crashed.beginWrite("half-2", {});
  await w2.write(Buffer.from("tiny"));
  const kept = await other.beginWrite("other-half", {});
  await kept.write(randomBytes(MiB));
  await writeBlob(crashed, "done", Buffer.from("committed before the crash"));
  // write() returns once a full chunk is handed to its insert, not once the row is in (a loaded
  // machine once counted 1 here): wait for half-1's and other-half's chunk rows before the "crash",
  // which a late insert would otherwise outlive.
  await waitFor("half-1's first chunk and done's", async () => (await countRows(cold.db.pool, "backup-crash")).chunks === 2, 10_000);
  await waitFor("other-half's first chunk", async () => (await countRows(cold.db.pool, "backup-other")).chunks === 1, 10_000);
  expect((await countRows(cold.db.pool, "backup-crash")).blobs).toBe(3);

  // A restart: a new cold.backend for the same node id, without w1/w2 ever finishing.
  const restarted = await cold.db.backend("backup-crash");
  expect(await countRows(cold.db.pool, "backup-crash")).toEqual({ blobs: 1, chunks: 1 });
  expect((await readAll((await restarted.read("done", 0, undefined)).chunks)).toString()).toBe("committed before the crash");
  expect(await countRows(cold.db.pool, "backup-other")).toEqual({ blobs: 1, chunks: 1 });
  // The writer that lost its rows cannot commit.
  await expect(w2.commit(4, sha256(Buffer.from("tiny")))).rejects.toMatchObject({ name: "AbortedError" });
  await kept.abort();
});

test("re-writing an existing blob id ends with exactly one complete copy", async () => {
  const data = randomBytes(MiB + 3);
  await writeBlob(cold.backend, "retried", data, { try: "1" });
  const again = await writeBlob(cold.backend, "retried", data, { try: "2" }); // identical retry: the first copy stays
  expect(again.attributes).toEqual({ try: "1" });
  const small = Buffer.from("small retried");
  await cold.backend.putSmall("retried-small", {}, small, sha256(small));
  await cold.backend.putSmall("retried-small", {}, small, sha256(small));

  // Concurrent identical copies of one id, streamed and small.
  await Promise.all([
    writeBlob(cold.backend, "raced", data),
    writeBlob(cold.backend, "raced", data),
    cold.backend.putSmall("raced-small", {}, small, sha256(small)),
    cold.backend.putSmall("raced-small", {}, small, sha256(small)),
  ]);

  // A different content under the same id (should not happen with immutable ids) replaces the old.
  const other = randomBytes(2 * MiB);
  const replaced = await writeBlob(cold.backend, "retried", other, { try: "3" });
  expect(replaced.attributes).toEqual({ try: "3" });
  expectSameBytes(await readAll((await cold.backend.read("retried", 0, undefined)).chunks), other);

  for (const [id, chunks] of [
    ["retried", 2],
    ["retried-small", 1],
    ["raced", 2],
    ["raced-small", 1],
  ] as const) {
    const [rows] = await cold.db.pool.query<RowDataPacket[]>(
      "SELECT state, COUNT(*) AS n FROM backup_blobs WHERE node_id = 'backup-i' AND blob_id = ? GROUP BY state",
      [id],
    );
    expect({ id, rows: rows.map((r) => [r.state, Number(r.n)]) }).toEqual({ id, rows: [["complete", 1]] });
    const [[c]] = await cold.db.pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM backup_chunks WHERE node_id = 'backup-i' AND blob_id = ?",
      [id],
    );
    expect({ id, chunks: Number(c.n) }).toEqual({ id, chunks });
  }
});

test("two backup nodes share one database without seeing each other's blobs", async () => {
  const a = await cold.db.backend("share-a");
  const b = await cold.db.backend("share-b");
  await a.putSmall("same-id", { node: "a" }, Buffer.from("from a"), sha256(Buffer.from("from a")));
  await writeBlob(b, "same-id", Buffer.from("from b, streamed"), { node: "b" });
  expect((await readAll((await a.read("same-id", 0, undefined)).chunks)).toString()).toBe("from a");
  expect((await readAll((await b.read("same-id", 0, undefined)).chunks)).toString()).toBe("from b, streamed");
  expect(await a.delete("same-id")).toBe(true);
  expect((await b.stat("same-id"))?.attributes).toEqual({ node: "b" });
  await expect(cold.backend.putSmall("bad id with spaces", {}, Buffer.alloc(0), sha256(Buffer.alloc(0)))).rejects.toMatchObject({
    name: "InvalidArgumentError",
  });
});

test("verify reads every chunk: ok for an intact blob, corrupt for a flipped byte or a lost chunk, missing for none", async () => {
  const data = randomBytes(2 * MiB + 10);
  await writeBlob(cold.backend, "verify-ok", data);
  await writeBlob(cold.backend, "verify-rot", data);
  await writeBlob(cold.backend, "verify-lost", data);
  const small = Buffer.from("small and fine");
  await cold.backend.putSmall("verify-small", {}, small, sha256(small));
  await corruptChunk(
    "backup-i",
    "verify-rot",
    2,
    "data = CONCAT(LEFT(data, 3), CHAR(ASCII(SUBSTRING(data, 4, 1)) ^ 1), SUBSTRING(data, 5))",
  );
  await cold.db.pool.query("DELETE FROM backup_chunks WHERE node_id = 'backup-i' AND blob_id = 'verify-lost' AND seq = 0");

  const ok = await cold.backend.verify("verify-ok");
  expect(ok.verdict).toBe("ok");
  expect(ok.meta?.sha256.equals(sha256(data))).toBe(true);
  expect((await cold.backend.verify("verify-small")).verdict).toBe("ok");
  // stat reads only the blob row, which still looks right.
  expect((await cold.backend.stat("verify-rot"))?.size).toBe(data.length);
  expect(await cold.backend.verify("verify-rot")).toMatchObject({ verdict: "corrupt", problem: expect.stringContaining("verify-rot") });
  expect((await cold.backend.verify("verify-lost")).verdict).toBe("corrupt");
  expect(await cold.backend.verify("no-such-blob")).toEqual({ verdict: "missing" });
});
