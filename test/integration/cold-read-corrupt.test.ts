import { randomBytes } from "node:crypto";
import { createConnection } from "mysql2/promise";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { statOf } from "../support/api";
import { sha256 } from "../support/bodies";
import { keyQuery, retrieveOutcome, signedFetch, upload } from "../support/http";
import { waitFor } from "../support/wait";

// A cold read streams from the backup node, which checks each chunk row against its CRC-32 (of the
// row's bytes and its place: blob id, write id, chunk number) before it hands out any of its bytes,
// and a whole read against the blob's sha256 before it hands out the last chunk
// (services/backup-node/chunk-reader.ts). Here chunk 1's row (bytes and checksum) is written over
// chunk 2's in MariaDB: a duplicated chunk. A ranged GET over chunk 2 has no sha256 to check; its
// row's checksum, naming another place, must fail it. A whole GET must never end as a complete 200
// with other bytes either: the coordinator relays a Content-Length's bytes as they come
// (api/body-relay.ts), so the client must see a cut body (DESIGN "Faults"; review finding 3, which
// storage nodes keep the same way).

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ env: { MINIS3_HOT_TTL: "2s" } });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

test("a cold object whose chunk rows were duplicated in MariaDB: a ranged GET over the copy fails, a whole GET is never a complete 200", async () => {
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

  // Before any byte of chunk 2 leaves: no 206 at all (the version has no other copy to read).
  const at = 2 * 1024 * 1024 + 1000;
  const ranged = await signedFetch(`${base}/retrieve?${keyQuery("cold/dup")}`, { headers: { range: `bytes=${at}-${at + 9999}` } });
  const rangedBytes = Buffer.from(await ranged.arrayBuffer());
  const servedAs =
    ranged.status !== 206
      ? `status ${ranged.status}`
      : rangedBytes.equals(body.subarray(at, at + 10_000))
        ? "the right bytes"
        : "wrong bytes";
  expect(servedAs).toMatch(/^status 5\d\d$/);

  const o = await retrieveOutcome(base, "cold/dup");
  if (o.status === 200 && o.complete) expect({ size: o.size, sha256: o.sha256 }).toEqual({ size: body.length, sha256: sha256(body) });
  else expect(o.complete && o.status === 200).toBe(false);
}, 120_000);
