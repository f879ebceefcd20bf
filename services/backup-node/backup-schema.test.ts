import { randomBytes } from "node:crypto";
import { crc32 } from "../common/crc32";
import { openDataSource } from "../common/db/datasource";
import { BACKUP_MIGRATIONS, CreateBackupTables1732600000000 } from "./backup-schema";
import { MiB, openTestDb, readAll, sha256, writeBlob } from "./test-support";

const NODE = "backup-schema";

test("a database from before check_form gets the column; its rows still read, checked by their bytes, next to new ones", async () => {
  const db = await openTestDb([CreateBackupTables1732600000000]);
  try {
    // A copy of 3 raw chunks as the release before wrote it: each checksum the CRC-32 of its bytes.
    const chunk = 64 * 1024;
    const data = randomBytes(3 * chunk);
    const writeId = "00112233aabbccdd";
    await db.pool.execute(
      `INSERT INTO backup_blobs (node_id, blob_id, write_id, state, size, sha256, chunk_count, chunk_size, attributes, stored_at_ms)
       VALUES (?, 'old', ?, 'complete', ?, ?, 3, ?, '{}', ?)`,
      [NODE, writeId, data.length, sha256(data), chunk, Date.now()],
    );
    for (let seq = 0; seq < 3; seq++) {
      const bytes = data.subarray(seq * chunk, (seq + 1) * chunk);
      await db.pool.execute(
        `INSERT INTO backup_chunks (node_id, blob_id, write_id, seq, codec, raw_size, stored_size, checksum, data)
         VALUES (?, 'old', ?, ?, 'raw', ?, ?, ?, ?)`,
        [NODE, writeId, seq, chunk, chunk, crc32(bytes), bytes],
      );
    }

    // The new release starts on it (its migrations run), and writes a copy of its own.
    const upgraded = await openDataSource({ url: db.url, migrations: BACKUP_MIGRATIONS, poolSize: 1 });
    await upgraded.destroy();
    const backend = await db.backend(NODE, { chunkBytes: chunk });
    const fresh = randomBytes(MiB);
    await writeBlob(backend, "new", fresh);

    expect((await readAll((await backend.read("old", 0, undefined)).chunks)).equals(data)).toBe(true);
    expect((await readAll((await backend.read("old", chunk + 10, chunk)).chunks)).equals(data.subarray(chunk + 10, 2 * chunk + 10))).toBe(
      true,
    );
    expect((await readAll((await backend.read("new", 100, 200_000)).chunks)).equals(fresh.subarray(100, 200_100))).toBe(true);
    const [forms] = await db.pool.query(
      "SELECT blob_id, check_form, COUNT(*) AS n FROM backup_chunks GROUP BY blob_id, check_form ORDER BY blob_id",
    );
    expect(forms).toEqual([
      { blob_id: "new", check_form: 1, n: 16 },
      { blob_id: "old", check_form: 0, n: 3 },
    ]);
    // Its bytes damaged, an old row still fails its (bytes-only) check.
    await db.pool.query("UPDATE backup_chunks SET data = REVERSE(data) WHERE blob_id = 'old' AND seq = 1");
    await expect(readAll((await backend.read("old", chunk, 10)).chunks)).rejects.toMatchObject({ name: "IntegrityError" });
    await backend.close();
  } finally {
    await db.close();
  }
});
