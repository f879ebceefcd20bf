import { randomBytes } from "node:crypto";
import type { RowDataPacket } from "mysql2/promise";
import { compressibleBytes, expectSameBytes, MiB, readAll, sha256, useColdTier, writeBlob } from "./test-support";

const cold = useColdTier("backup-a");
/** Its MariaDB is on this host: the free space of the data directory's filesystem (database-free-space.ts). */
const FREE = expect.any(Number);

async function codecsOf(blobId: string): Promise<string[]> {
  const [rows] = await cold.db.pool.query<RowDataPacket[]>(
    "SELECT codec FROM backup_chunks WHERE node_id = 'backup-a' AND blob_id = ? ORDER BY seq",
    [blobId],
  );
  return rows.map((r) => String(r.codec));
}

test("0 bytes round trip (streamed and putSmall), no chunk rows", async () => {
  const meta = await writeBlob(cold.backend, "empty", Buffer.alloc(0));
  expect(meta.size).toBe(0);
  expect(meta.sha256).toEqual(sha256(Buffer.alloc(0)));
  const r = await cold.backend.read("empty", 0, undefined);
  expect(r.length).toBe(0);
  expect(await readAll(r.chunks)).toEqual(Buffer.alloc(0));
  await cold.backend.putSmall("empty-small", {}, Buffer.alloc(0), sha256(Buffer.alloc(0)));
  expect((await readAll((await cold.backend.read("empty-small", 0, undefined)).chunks)).length).toBe(0);
  expect(await codecsOf("empty")).toEqual([]);
  expect(await codecsOf("empty-small")).toEqual([]);
});

test("a few bytes round trip with attributes; stat sees them", async () => {
  const data = Buffer.from("hello, cold tier");
  const meta = await writeBlob(cold.backend, "few", data, { bucket: "b1", key: "k/1" }, 5);
  expect(meta).toMatchObject({ blobId: "few", size: data.length, attributes: { bucket: "b1", key: "k/1" } });
  expect(await readAll((await cold.backend.read("few", 0, undefined)).chunks)).toEqual(data);
  const st = await cold.backend.stat("few");
  expect(st).toMatchObject({ blobId: "few", size: data.length, attributes: { bucket: "b1", key: "k/1" } });
  expect(st!.sha256).toEqual(sha256(data));
  expect(st!.storedAtMs).toBeGreaterThan(Date.now() - 60_000);
  expect(await cold.backend.stat("missing")).toBeNull();
  await expect(cold.backend.read("missing", 0, undefined)).rejects.toMatchObject({ name: "NotFoundError" });
});

test("compressible multi-MiB data is stored deflated, and reads back", async () => {
  const data = compressibleBytes(3 * MiB + 12345);
  await writeBlob(cold.backend, "text", data, {}, 200_000); // pieces not aligned with the 1 MiB stored chunks
  expect(await codecsOf("text")).toEqual(["deflate", "deflate", "deflate", "deflate"]);
  const [[row]] = await cold.db.pool.query<RowDataPacket[]>(
    "SELECT SUM(stored_size) AS stored, SUM(raw_size) AS raw FROM backup_chunks WHERE node_id = 'backup-a' AND blob_id = 'text'",
  );
  expect(Number(row.raw)).toBe(data.length);
  expect(Number(row.stored)).toBeLessThan(data.length / 4);
  expectSameBytes(await readAll((await cold.backend.read("text", 0, undefined)).chunks), data);
});

test("incompressible multi-MiB data is stored raw, and reads back", async () => {
  const data = randomBytes(2 * MiB + 777);
  await writeBlob(cold.backend, "random", data, {}, 64 * 1024);
  expect(await codecsOf("random")).toEqual(["raw", "raw", "raw"]);
  const r = await cold.backend.read("random", 0, undefined);
  const parts: Buffer[] = [];
  for await (const c of r.chunks) parts.push(c);
  expect(parts.every((p) => p.length <= MiB)).toBe(true);
  expectSameBytes(Buffer.concat(parts), data);
});

test("ranged reads across chunk borders, clamped at the end", async () => {
  const data = randomBytes(3 * MiB + 100);
  await writeBlob(cold.backend, "ranges", data, {}, 300_000);
  const cases: Array<[number, number | undefined]> = [
    [0, 1],
    [MiB - 1, 2],
    [MiB - 10, MiB + 20],
    [MiB, MiB],
    [2 * MiB + 5, undefined],
    [3 * MiB + 99, 10],
    [3 * MiB + 100, 5],
    [5 * MiB, 5],
    [123, 0],
    [1, 3 * MiB + 98],
  ];
  for (const [offset, length] of cases) {
    const r = await cold.backend.read("ranges", offset, length);
    const start = Math.min(offset, data.length);
    const end = length === undefined ? data.length : Math.min(data.length, start + length);
    expectSameBytes(await readAll(r.chunks), data.subarray(start, end), `range ${offset}+${length}`);
    expect(r.offset).toBe(start);
    expect(r.length).toBe(end - start);
  }
});

test("putSmall: same result as a streamed write; concurrent puts are grouped and all readable", async () => {
  const small = compressibleBytes(50_000);
  const meta = await cold.backend.putSmall("small-1", { a: "1" }, small, sha256(small));
  expect(meta).toMatchObject({ blobId: "small-1", size: small.length, attributes: { a: "1" } });
  expect(await codecsOf("small-1")).toEqual(["deflate"]);
  expectSameBytes(await readAll((await cold.backend.read("small-1", 10, 40_000)).chunks), small.subarray(10, 40_010));

  const many = Array.from({ length: 40 }, (_, i) => randomBytes(100 + i * 37));
  await Promise.all(many.map((d, i) => cold.backend.putSmall(`many-${i}`, { i: String(i) }, d, sha256(d))));
  for (let i = 0; i < many.length; i++) {
    expectSameBytes(await readAll((await cold.backend.read(`many-${i}`, 0, undefined)).chunks), many[i], `many-${i}`);
  }
  await expect(cold.backend.putSmall("bad", {}, small, sha256(Buffer.from("other")))).rejects.toMatchObject({ name: "IntegrityError" });
  expect(await cold.backend.stat("bad")).toBeNull();

  // Larger than one chunk: falls back to the streamed path.
  const big = randomBytes(MiB + 5);
  await cold.backend.putSmall("small-big", {}, big, sha256(big));
  expectSameBytes(await readAll((await cold.backend.read("small-big", 0, undefined)).chunks), big);
});

test("delete is idempotent; list pages through complete blobs in id order; stats follow", async () => {
  const b = await cold.db.backend("backup-list");
  const ids = Array.from({ length: 300 }, (_, i) => `blob-${String(i).padStart(4, "0")}`);
  await Promise.all(ids.map((id) => b.putSmall(id, {}, Buffer.from(id), sha256(Buffer.from(id)))));
  const w = await b.beginWrite("blob-zz-unfinished", {});
  await w.write(Buffer.from("not committed"));
  const listed: string[] = [];
  for await (const m of b.list()) listed.push(m.blobId);
  expect(listed).toEqual(ids);
  expect(await b.stats()).toEqual({ blobCount: 300, usedBytes: 300 * 9, freeBytes: FREE });

  expect(await b.delete("blob-0001")).toBe(true);
  expect(await b.delete("blob-0001")).toBe(false);
  expect(await b.delete("never")).toBe(false);
  expect(await b.stat("blob-0001")).toBeNull();
  await expect(b.read("blob-0001", 0, undefined)).rejects.toMatchObject({ name: "NotFoundError" });
  expect(await b.stats()).toEqual({ blobCount: 299, usedBytes: 299 * 9, freeBytes: FREE });
  const [[rows]] = await cold.db.pool.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM backup_chunks WHERE node_id = 'backup-list' AND blob_id = 'blob-0001'",
  );
  expect(Number(rows.n)).toBe(0);
  await w.abort();
  // Another node's blobs are not listed here.
  const mine: string[] = [];
  for await (const m of cold.backend.list()) mine.push(m.blobId);
  expect(mine.some((id) => id.startsWith("blob-"))).toBe(false);
  await b.close();
});

test("concurrent deletes share a transaction: small and multi-chunk copies all go, a copy being written stays", async () => {
  const b = await cold.db.backend("backup-batch");
  const ids = Array.from({ length: 200 }, (_, i) => `del-${String(i).padStart(4, "0")}`);
  await Promise.all(ids.map((id) => b.putSmall(id, {}, Buffer.from(id), sha256(Buffer.from(id)))));
  const big = randomBytes(3 * MiB + 1);
  await writeBlob(b, "del-big", big);
  // A second write of a listed id, still in progress: a delete does not touch it.
  const w = await b.beginWrite("del-0007", {});
  await w.write(Buffer.from("later"));
  const results = await Promise.all([...ids, "del-big", "del-never"].map((id) => b.delete(id)));
  expect(results).toEqual([...ids.map(() => true), true, false]);
  const count = async (table: string, where: string) => {
    const [[row]] = await cold.db.pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${table} WHERE node_id = 'backup-batch' AND ${where}`,
    );
    return Number(row.n);
  };
  expect(await count("backup_blobs", "state <> 'writing'")).toBe(0);
  expect(await count("backup_chunks", "blob_id <> 'del-0007'")).toBe(0);
  expect(await count("backup_blobs", "blob_id = 'del-0007' AND state = 'writing'")).toBe(1);
  expect(await b.stats()).toEqual({ blobCount: 0, usedBytes: 0, freeBytes: FREE });
  expect(await w.commit(5, sha256(Buffer.from("later")))).toMatchObject({ blobId: "del-0007", size: 5 });
  expect(await readAll((await b.read("del-0007", 0, undefined)).chunks)).toEqual(Buffer.from("later"));
  await b.close();
});

test("a batch delete leaves the chunks of a copy being written and of another node's copy of the id", async () => {
  const b = await cold.db.backend("backup-prefix", { chunkBytes: 4 });
  const other = await cold.db.backend("backup-prefix-2");
  await b.putSmall("pre-1", {}, Buffer.from("abc"), sha256(Buffer.from("abc")));
  await other.putSmall("pre-1", {}, Buffer.from("xyz"), sha256(Buffer.from("xyz")));
  await b.putSmall("pre-2", {}, Buffer.from("def"), sha256(Buffer.from("def")));
  // A second copy of pre-2 in progress, some of its chunks already stored.
  const w = await b.beginWrite("pre-2", {});
  await w.write(Buffer.from("0123456789"));
  expect(await Promise.all(["pre-1", "pre-2"].map((id) => b.delete(id)))).toEqual([true, true]);
  const [rows] = await cold.db.pool.query<RowDataPacket[]>(
    "SELECT node_id, blob_id, COUNT(*) AS n FROM backup_chunks WHERE blob_id LIKE 'pre-%' GROUP BY node_id, blob_id ORDER BY node_id",
  );
  expect(rows.map((r) => [r.node_id, r.blob_id, Number(r.n) > 0])).toEqual([
    ["backup-prefix", "pre-2", true],
    ["backup-prefix-2", "pre-1", true],
  ]);
  const [[gone]] = await cold.db.pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM backup_chunks c WHERE c.node_id = 'backup-prefix' AND NOT EXISTS
       (SELECT 1 FROM backup_blobs b WHERE b.node_id = c.node_id AND b.blob_id = c.blob_id AND b.write_id = c.write_id AND b.state = 'writing')`,
  );
  expect(Number(gone.n)).toBe(0); // the complete copies' chunks went
  expect(await w.commit(10, sha256(Buffer.from("0123456789")))).toMatchObject({ blobId: "pre-2", size: 10 });
  expect(await readAll((await b.read("pre-2", 0, undefined)).chunks)).toEqual(Buffer.from("0123456789"));
  expect(await readAll((await other.read("pre-1", 0, undefined)).chunks)).toEqual(Buffer.from("xyz"));
  await b.close();
  await other.close();
});
