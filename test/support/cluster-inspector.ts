import { createPool, type Pool, type RowDataPacket } from "mysql2/promise";
import { parseMysqlUrl } from "../../services/common/db/pool";
import type { BlobMeta } from "../../services/rpc/blob-backend";
import { NodeClient } from "../../services/rpc/client/node-client";
import type { TestCluster } from "../../deploy/launcher/cluster";
import { hashStream, type StreamedDigest } from "./bodies";

/** A version as the catalogue records it (the columns the tests assert on). */
export interface CatalogueVersion {
  versionId: string;
  key: string;
  size: number;
  sha256: string;
  state: "live" | "trash";
  tier: "hot" | "cold" | "trash";
  replicas: string[];
  cleanup: string[];
  accessedMs: number;
  purgeMs: number | null;
  reason: string | null;
}

const ids = (s: string): string[] => (s ? s.split(",") : []);

/**
 * Looks behind the API: the catalogue in MySQL (the truth) and each node's own view of its blobs
 * over the node gRPC service, so a test can prove where the bytes are and are not.
 */
export class ClusterInspector {
  private readonly pool: Pool;
  private readonly clients = new Map<string, NodeClient>();
  private readonly added = new Map<string, string>();

  constructor(private readonly cluster: TestCluster) {
    const t = parseMysqlUrl(cluster.mysqlUrl);
    this.pool = createPool({ ...t, connectionLimit: 4 });
  }

  /** Node ids of one kind, from the harness's plan (storage-1..N, backup-1, delete-1). */
  nodeIds(kind: "storage" | "backup" | "delete"): string[] {
    return this.cluster.specs.filter((s) => s.kind === kind).map((s) => s.name);
  }

  get allNodeIds(): string[] {
    return [...this.nodeIds("storage"), ...this.nodeIds("backup"), ...this.nodeIds("delete")];
  }

  async version(versionId: string): Promise<CatalogueVersion | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT version_id, object_key, size, sha256, state, tier, replicas, cleanup, accessed_ms, purge_ms, reason
         FROM versions WHERE version_id = ?`,
      [versionId],
    );
    if (!rows.length) return null;
    const r = rows[0];
    return {
      versionId: r.version_id,
      key: Buffer.isBuffer(r.object_key) ? r.object_key.toString("utf8") : r.object_key,
      size: Number(r.size),
      sha256: r.sha256,
      state: r.state,
      tier: r.tier,
      replicas: ids(r.replicas),
      cleanup: ids(r.cleanup),
      accessedMs: Number(r.accessed_ms),
      purgeMs: r.purge_ms === null ? null : Number(r.purge_ms),
      reason: r.reason,
    };
  }

  /** The visible version id of a key (default bucket), or null. */
  async currentVersionId(key: string): Promise<string | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>("SELECT version_id FROM objects WHERE object_key = ?", [key]);
    return rows.length ? rows[0].version_id : null;
  }

  /** Complete copies of a blob on the backup node's tables (a duplicate would show as 2). */
  async backupCopies(versionId: string): Promise<{ copies: number; chunkBytes: number }> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT COUNT(DISTINCT b.write_id) AS copies, COALESCE(SUM(c.raw_size), 0) AS bytes
         FROM backup_blobs b LEFT JOIN backup_chunks c ON c.node_id = b.node_id AND c.blob_id = b.blob_id AND c.write_id = b.write_id
        WHERE b.blob_id = ? AND b.state = 'complete'`,
      [versionId],
    );
    return { copies: Number(rows[0].copies), chunkBytes: Number(rows[0].bytes) };
  }

  /** Rows of unfinished or abandoned copies of a blob on the backup node (a killed write leaves these). */
  async backupLeftovers(versionId: string): Promise<{ rows: number; chunkBytes: number }> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT (SELECT COUNT(*) FROM backup_blobs WHERE blob_id = ? AND state <> 'complete') AS n,
              (SELECT COALESCE(SUM(c.raw_size), 0) FROM backup_chunks c
                WHERE c.blob_id = ? AND NOT EXISTS (SELECT 1 FROM backup_blobs b WHERE b.node_id = c.node_id AND b.blob_id = c.blob_id
                                                       AND b.write_id = c.write_id AND b.state = 'complete')) AS bytes`,
      [versionId, versionId],
    );
    return { rows: Number(rows[0].n), chunkBytes: Number(rows[0].bytes) };
  }

  /** Tier and state of many versions at once, with the catalogue's due times (absent: purged). */
  async tiers(versionIds: string[]): Promise<Map<string, Pick<CatalogueVersion, "state" | "tier" | "accessedMs" | "purgeMs">>> {
    const out = new Map<string, Pick<CatalogueVersion, "state" | "tier" | "accessedMs" | "purgeMs">>();
    for (let i = 0; i < versionIds.length; i += 1000) {
      const part = versionIds.slice(i, i + 1000);
      const [rows] = await this.pool.query<RowDataPacket[]>(
        `SELECT version_id, state, tier, accessed_ms, purge_ms FROM versions WHERE version_id IN (${part.map(() => "?").join(",")})`,
        part,
      );
      for (const r of rows)
        out.set(r.version_id, {
          state: r.state,
          tier: r.tier,
          accessedMs: Number(r.accessed_ms),
          purgeMs: r.purge_ms === null ? null : Number(r.purge_ms),
        });
    }
    return out;
  }

  /** Deletes a blob on one node behind the catalogue's back (a lost copy). */
  /** Takes a copy away as a lost disk would: no job's lock to keep, so a fenced delete is asked again. */
  async deleteOn(nodeId: string, versionId: string): Promise<boolean> {
    return this.client(nodeId).deleteBlob(versionId, undefined, async () => undefined);
  }

  /** What one node says about a blob: its meta, or null if it does not have it. */
  async blobOn(nodeId: string, versionId: string): Promise<BlobMeta | null> {
    return this.client(nodeId).statBlob(versionId);
  }

  /** What one node finds when it re-reads its copy of a blob and checks it: ok, corrupt or missing. */
  verifyOn(nodeId: string, versionId: string): Promise<"ok" | "corrupt" | "missing"> {
    return this.client(nodeId).verifyBlob(versionId);
  }

  /** Every node that holds a copy of the blob (asked directly, not through the catalogue). */
  async holders(versionId: string): Promise<string[]> {
    const found = await Promise.all(this.allNodeIds.map(async (id) => ((await this.blobOn(id, versionId)) ? id : null)));
    return found.filter((id): id is string => id !== null);
  }

  /**
   * Versions a user can still read or restore (live, or in the trash with no purge begun) whose
   * catalogue row names a node that does not hold its bytes (no copy, or other bytes), asked of
   * the nodes directly. A row that changed while its nodes were asked (a move commits, then deletes
   * the old copies) is read again; one that keeps changing counts as missing its copies.
   */
  async versionsMissingCopies(): Promise<{ versionId: string; state: string; tier: string; missing: string[] }[]> {
    const columns = "version_id, state, tier, gen, sha256, replicas";
    const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT ${columns} FROM versions WHERE state IN ('live', 'trash')`);
    const found: { versionId: string; state: string; tier: string; missing: string[] }[] = [];
    const check = async (first: RowDataPacket) => {
      let r = first;
      for (let look = 1; ; look++) {
        const missing: string[] = [];
        for (const node of ids(r.replicas)) {
          const meta = await this.blobOn(node, r.version_id).catch(() => null);
          if (meta?.sha256.toString("hex") !== r.sha256) missing.push(node);
        }
        if (!missing.length) return;
        const [again] = await this.pool.execute<RowDataPacket[]>(`SELECT ${columns} FROM versions WHERE version_id = ?`, [r.version_id]);
        const now = again[0];
        if (!now || (now.state !== "live" && now.state !== "trash")) return; // purged or being purged since
        if (Number(now.gen) === Number(r.gen) || look === 5) {
          found.push({ versionId: r.version_id, state: r.state, tier: r.tier, missing });
          return;
        }
        r = now;
      }
    };
    // A few nodes asked at once (each a stat on a node's gRPC service).
    for (let i = 0; i < rows.length; i += 16) await Promise.all(rows.slice(i, i + 16).map(check));
    return found;
  }

  /** Streams a blob straight from a node and hashes it. */
  async hashOn(nodeId: string, versionId: string): Promise<StreamedDigest> {
    return hashStream((await this.client(nodeId).readBlob(versionId, 0)).chunks);
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    await this.pool.end();
  }

  /** A node started outside the harness's plan (test/support/extra-storage-node.ts). */
  addNode(nodeId: string, address: string): void {
    this.added.set(nodeId, address);
  }

  private client(nodeId: string): NodeClient {
    let c = this.clients.get(nodeId);
    if (!c) {
      const address = this.cluster.specs.find((s) => s.name === nodeId)?.address ?? this.added.get(nodeId);
      if (!address) throw new Error(`no node ${nodeId} in this cluster`);
      const clusterSecret = this.cluster.specs.find((s) => s.kind === "coordinator")?.env.MINIS3_CLUSTER_SECRET;
      c = new NodeClient(nodeId, address, { deadlineMs: 5000, clusterSecret });
      this.clients.set(nodeId, c);
    }
    return c;
  }
}
