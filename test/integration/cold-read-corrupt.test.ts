import { randomBytes } from "node:crypto";
import { createConnection } from "mysql2/promise";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { statOf } from "../support/api";
import { sha256 } from "../support/bodies";
import { retrieveOutcome, upload } from "../support/http";
import { waitFor } from "../support/wait";

// A cold read streams from the backup node, which checks each chunk row against the CRC-32 stored in
// that same row, and a whole read against the blob's sha256 before it hands out the last chunk
// (services/backup-node/chunk-reader.ts). A chunk row changed as a whole in MariaDB (here chunk 1's
// bytes and checksum written over chunk 2's: a duplicated chunk) passes every chunk check; only the
// sha256 fails, and if that were found after the last byte, the coordinator would have relayed the
// whole Content-Length already (api/body-relay.ts). The client must see a cut body, never a complete
// 200 with other bytes (DESIGN "Faults"; review finding 3, which storage nodes keep the same way).

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ env: { MINIS3_HOT_TTL: "2s" } });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

test("a cold object whose chunk rows were duplicated in MariaDB is never served as a complete 200", async () => {
  const base = cluster.httpUrl;
  const body = randomBytes(4 * 1024 * 1024); // 4 chunk rows of 1 MiB at most: chunks 1 and 2 are full
  expect((await upload(base, "cold/dup", body)).status).toBe(201);
  await waitFor("cold/dup to be cold", async () => (await statOf(base, "cold/dup"))?.tier === "cold", 30_000);

  const db = await createConnection({ uri: cluster.mysqlUrl });
  try {
    const [res] = await db.query(
      `UPDATE backup_chunks d JOIN backup_chunks s ON s.node_id = d.node_id AND s.blob_id = d.blob_id AND s.write_id = d.write_id
          SET d.codec = s.codec, d.raw_size = s.raw_size, d.stored_size = s.stored_size, d.checksum = s.checksum, d.data = s.data
        WHERE d.seq = 2 AND s.seq = 1`,
    );
    expect((res as { affectedRows: number }).affectedRows).toBe(1);
  } finally {
    await db.end();
  }

  const o = await retrieveOutcome(base, "cold/dup");
  if (o.status === 200 && o.complete) expect({ size: o.size, sha256: o.sha256 }).toEqual({ size: body.length, sha256: sha256(body) });
  else expect(o.complete && o.status === 200).toBe(false);
}, 120_000);
