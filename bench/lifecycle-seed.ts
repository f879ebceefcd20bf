import { createHash } from "node:crypto";
import { createPool, type Pool, type RowDataPacket } from "mysql2/promise";
import type { TestCluster } from "../deploy/launcher/cluster";
import { parseMysqlUrl } from "../services/common/db/pool";
import { newVersionId } from "../services/common/ids";
import { Semaphore } from "../services/common/semaphore";
import { commitBatch, deleteBatch, type NewVersion, type Requested } from "../services/coordinator/catalogue/versions-sql";
import { CatalogueClock } from "../services/coordinator/catalogue/catalogue-clock";
import { HashRing } from "../services/coordinator/placement/hash-ring";
import { placementKey } from "../services/coordinator/placement/placement";
import { NodeClient } from "../services/rpc/client/node-client";
import { smallBody } from "./payload";

// Seeding for the lifecycle phase: objects written straight into a running cluster, so that what
// is measured is the lifecycle and not the upload generator (over HTTP this machine uploads only
// ~100 small objects a second under load, far below the 1,500 transitions a second to be shown).
// The bytes go to the storage nodes over their Exchange streams, each to the key's home nodes on the
// coordinators' own ring; the rows are committed with the catalogue's own batch functions
// (commitBatch, deleteBatch), so a seeded row is what an upload or a delete makes, by construction
// and by the check in `sameAsUpload`. A bench tool: nothing in services/ seeds.

/** Rows are committed this many at a time (one multi-row INSERT each, as a grouped upload commit). */
const COMMIT_ROWS = 1000;
/** Blob writes in flight while seeding: each node packs them into its Exchange messages. */
const PUTS_IN_FLIGHT = 512;
/**
 * Access times of seeded rows until `makeDue` spreads them: far in the future (nothing is due
 * while seeding) and carrying the row's rank, so one UPDATE can give each its due time.
 */
const PARKED_MS = 2 ** 50;

export const SEED_BUCKET = "default";
export const SEED_CONTENT_TYPE = "application/octet-stream";

export interface SeededObject {
  key: string;
  versionId: string;
}

/** A cluster's catalogue and nodes, reached as the coordinator reaches them. */
export class Seeder {
  readonly pool: Pool;
  readonly clock: CatalogueClock;
  private readonly ring: HashRing;
  private readonly clients = new Map<string, NodeClient>();

  constructor(
    cluster: TestCluster,
    private readonly replicas: number,
  ) {
    this.pool = createPool({ ...parseMysqlUrl(cluster.mysqlUrl), connectionLimit: 4, multipleStatements: true });
    this.clock = new CatalogueClock(this.pool);
    for (const s of cluster.specs)
      if (s.kind !== "coordinator")
        this.clients.set(s.name, new NodeClient(s.name, s.address, { clusterSecret: s.env.MINIS3_CLUSTER_SECRET }));
    this.ring = new HashRing(cluster.specs.filter((s) => s.kind === "storage").map((s) => s.name));
  }

  /** Where the coordinator puts a key: the first R nodes of its preference list (all live here). */
  home(key: string): string[] {
    return this.ring.preferenceList(placementKey(SEED_BUCKET, key)).slice(0, this.replicas);
  }

  /**
   * Writes `count` live hot objects of `size` bytes (their blobs on their home storage nodes, then
   * their rows), parked: nothing comes due until makeDue. Answers them in rank order.
   */
  async seed(count: number, size: number, keyPrefix: string, log: (m: string) => void): Promise<SeededObject[]> {
    const out: SeededObject[] = [];
    const slots = new Semaphore(PUTS_IN_FLIGHT);
    // Commits one at a time, in rank order, each once its blobs are durable; the next batches'
    // blobs are written meanwhile.
    let committed = Promise.resolve();
    for (let start = 0; start < count; start += COMMIT_ROWS) {
      const rows: (NewVersion & Requested)[] = [];
      const puts: Promise<unknown>[] = [];
      for (let i = start; i < Math.min(count, start + COMMIT_ROWS); i++) {
        const key = `${keyPrefix}${i}`;
        const versionId = newVersionId();
        const data = smallBody(size, i);
        const sha256 = createHash("sha256").update(data).digest();
        const replicas = this.home(key);
        for (const node of replicas) {
          await slots.acquire();
          puts.push(
            this.client(node)
              .putSmall(versionId, {}, data, sha256)
              .finally(() => slots.release()),
          );
        }
        rows.push({
          versionId,
          bucket: SEED_BUCKET,
          key,
          size,
          sha256: sha256.toString("hex"),
          etag: createHash("md5").update(data).digest("hex"),
          contentType: SEED_CONTENT_TYPE,
          metadata: {},
          replicas,
          createdMs: PARKED_MS + i,
          requestId: null,
        });
        out.push({ key, versionId });
      }
      const done = start + rows.length;
      // As an upload: the bytes are durable on every replica before the commit names them.
      const written = Promise.all(puts);
      committed = Promise.all([committed, written]).then(async () => {
        await commitBatch(this.pool, rows, await this.clock.now(), 0);
        if (done % (20 * COMMIT_ROWS) === 0) log(`lifecycle: seeded ${done} of ${count}`);
      });
      committed.catch(() => undefined); // awaited below (or by the next batch)
    }
    await committed;
    return out;
  }

  /**
   * Gives the parked rows their times in one statement: rank i was created and last read at
   * firstDue - ttl + i * windowMs / count on the catalogue's clock, so it comes due (demotion) at
   * firstDue + i * windowMs / count. Answers firstDue.
   */
  async makeDue(count: number, leadMs: number, windowMs: number, ttlMs: number): Promise<number> {
    const [rows] = await this.pool.query<RowDataPacket[]>("SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED) AS ms");
    const firstDue = Number(rows[0].ms) + leadMs;
    const step = windowMs / count;
    await this.pool.query(
      `UPDATE versions SET accessed_ms = ? + FLOOR((accessed_ms - ?) * ?), created_ms = accessed_ms
        WHERE state = 'live' AND tier = 'hot' AND accessed_ms >= ?`,
      [firstDue - ttlMs, PARKED_MS, step, PARKED_MS],
    );
    return firstDue;
  }

  /**
   * Deletes the objects as the API does (deleteBatch, on the catalogue's clock), `perSecond` of
   * them a second in batches every 100 ms (as the delete GroupCommit batches concurrent deletes).
   * Answers when the first was deleted.
   */
  /** `onCommit`: each delete transaction's time (ms). */
  async deletePaced(objects: SeededObject[], perSecond: number, trashTtlMs: number, onCommit?: (ms: number) => void): Promise<number> {
    const started = performance.now();
    const firstAt = await this.clock.now();
    for (let done = 0; done < objects.length;) {
      const target = Math.min(objects.length, Math.ceil(((performance.now() - started) / 1000) * perSecond) + 1);
      while (target > done) {
        const upTo = Math.min(target, done + COMMIT_ROWS);
        const batch = objects.slice(done, upTo).map((o) => ({ bucket: SEED_BUCKET, key: o.key, requestId: null }));
        const from = performance.now();
        await deleteBatch(this.pool, batch, trashTtlMs);
        onCommit?.(performance.now() - from);
        done = upTo;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return firstAt;
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    await this.pool.end();
  }

  client(node: string): NodeClient {
    const c = this.clients.get(node);
    if (!c) throw new Error(`no node ${node} in the cluster`);
    return c;
  }
}

/** The columns of a versions row that say what an upload made, leaving out what differs per object. */
const SHAPE_COLUMNS = ["bucket", "size", "content_type", "metadata", "state", "tier", "cleanup", "deleted_ms", "purge_ms", "reason", "gen"];

/** What an object looks like as stored, less what differs per object (see sameAsUpload). */
export interface ObjectShape {
  row: Record<string, unknown>;
  /** Its replicas are its key's home nodes. */
  atHome: boolean;
  blobs: { size: number; attributes: Record<string, string> }[];
}

/** How an object is stored: its row and its blobs, read now. */
export async function shapeOf(seeder: Seeder, o: SeededObject): Promise<ObjectShape | null> {
  const [rows] = await seeder.pool.query<RowDataPacket[]>(
    `SELECT ${SHAPE_COLUMNS.join(", ")}, replicas, created_ms = accessed_ms AS fresh, LENGTH(sha256) AS sha_len,
            LENGTH(etag) AS etag_len FROM versions WHERE version_id = ?`,
    [o.versionId],
  );
  if (!rows.length) return null;
  const { replicas, ...row } = rows[0];
  const metas = await Promise.all(
    String(replicas)
      .split(",")
      .map((n) => seeder.client(n).statBlob(o.versionId)),
  );
  return {
    row,
    atHome: replicas === seeder.home(o.key).join(","),
    blobs: metas.map((m) => (m ? { size: m.size, attributes: m.attributes } : { size: -1, attributes: {} })),
  };
}

/**
 * What a seeded object differs in from a real upload, both read right after they were made (the
 * row's columns but the object's own identity, bytes and times; created equal to accessed;
 * replicas on the key's home nodes; on each replica a blob of the same size and attributes).
 * Empty: the same.
 */
export function shapeDiffs(uploaded: ObjectShape | null, seeded: ObjectShape | null): string[] {
  if (!uploaded || !seeded) return [`row missing: upload ${!!uploaded}, seeded ${!!seeded}`];
  const diffs: string[] = [];
  for (const col of Object.keys(uploaded.row)) {
    const [x, y] = [JSON.stringify(uploaded.row[col]), JSON.stringify(seeded.row[col])];
    if (x !== y) diffs.push(`${col}: upload ${x}, seeded ${y}`);
  }
  if (!uploaded.atHome || !seeded.atHome) diffs.push(`replicas at home: upload ${uploaded.atHome}, seeded ${seeded.atHome}`);
  const [x, y] = [JSON.stringify(uploaded.blobs), JSON.stringify(seeded.blobs)];
  if (x !== y) diffs.push(`blobs: upload ${x}, seeded ${y}`);
  return diffs;
}
