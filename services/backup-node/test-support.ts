import { createHash, randomBytes } from "node:crypto";
import type { Pool, RowDataPacket } from "mysql2/promise";
import pino from "pino";
import type { DataSource } from "typeorm";
import { openDataSource, sqlPool, type MigrationClass } from "../common/db/datasource";
import type { Logger } from "../common/logger";
import { MysqlBackupBackend, type BackupBackendOptions } from "./backup-backend";
import { BACKUP_MIGRATIONS } from "./backup-schema";

/** A fresh database of its own on the real MariaDB, with the cold-tier tables. */
export interface TestDb {
  /** Its mysql:// URL, for another DataSource on the same database. */
  url: string;
  ds: DataSource;
  pool: Pool;
  log: Logger;
  backend(nodeId: string, opts?: Partial<BackupBackendOptions>): Promise<MysqlBackupBackend>;
  /** Drops the database and closes every connection. */
  close(): Promise<void>;
}

/** `migrations`: the cold tier's by default; fewer for a database as an older release left it. */
export async function openTestDb(migrations: MigrationClass[] = BACKUP_MIGRATIONS): Promise<TestDb> {
  const name = `minis3_t_${randomBytes(6).toString("hex")}`;
  const url = `mysql://root@127.0.0.1:3306/${name}`;
  const ds = await openDataSource({ url, migrations, poolSize: 8 });
  const pool = sqlPool(ds);
  const log = pino({ level: "silent" });
  return {
    url,
    ds,
    pool,
    log,
    async backend(nodeId, opts) {
      const b = new MysqlBackupBackend({ nodeId, pool, log, ...opts });
      await b.open();
      return b;
    },
    async close() {
      try {
        await ds.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await ds.destroy();
      }
    },
  };
}

/** One test file's database and backend (node id `nodeId`): opened before its tests, closed after. */
export interface ColdTier {
  readonly db: TestDb;
  readonly backend: MysqlBackupBackend;
}

export function useColdTier(nodeId: string): ColdTier {
  const cold = {} as { db: TestDb; backend: MysqlBackupBackend };
  beforeAll(async () => {
    cold.db = await openTestDb();
    cold.backend = await cold.db.backend(nodeId);
  });
  afterAll(async () => {
    await cold.backend?.close();
    await cold.db?.close();
  });
  return cold;
}

export const MiB = 1024 * 1024;
/** What the node service hands the backend per gRPC message. */
export const PIECE = 256 * 1024;

/** Streams data into b in pieces of `piece` bytes. */
export async function writeBlob(
  b: MysqlBackupBackend,
  blobId: string,
  data: Buffer,
  attributes: Record<string, string> = {},
  piece = PIECE,
) {
  const w = await b.beginWrite(blobId, attributes);
  for (let pos = 0; pos < data.length; pos += piece) await w.write(data.subarray(pos, pos + piece));
  return w.commit(data.length, sha256(data));
}

export async function readAll(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

export function sha256(data: Buffer): Buffer {
  return createHash("sha256").update(data).digest();
}

/** Bytes that deflate well (repetitive text with some variety). */
export function compressibleBytes(size: number): Buffer {
  const line = Buffer.from("cold tier line of fairly repetitive log text, number ");
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let i = 0; pos < size; i++) {
    pos += line.copy(out, pos);
    pos += out.write(`${i}\n`, pos);
  }
  return out;
}

/** Counts this node's rows in both tables (every state). */
export async function countRows(pool: Pool, nodeId: string): Promise<{ blobs: number; chunks: number }> {
  const [[b]] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM backup_blobs WHERE node_id = ?", [nodeId]);
  const [[c]] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM backup_chunks WHERE node_id = ?", [nodeId]);
  return { blobs: Number(b.n), chunks: Number(c.n) };
}

/**
 * Throws unless the buffers are equal. For large buffers: jest's toEqual walks a Buffer element
 * by element (seconds per MiB).
 */
export function expectSameBytes(actual: Buffer, expected: Buffer, label = ""): void {
  if (actual.equals(expected)) return;
  throw new Error(
    `${label ? label + ": " : ""}got ${actual.length} bytes, expected ${expected.length}; ` +
      `first difference at byte ${firstDifference(actual, expected)}`,
  );
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
