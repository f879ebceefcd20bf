import type { MigrationInterface, QueryRunner } from "typeorm";
import { addColumn } from "../common/db/add-column";

/** The node registry: every node writes its own row and heartbeats it; coordinators read it. */
export class CreateNodes1732500000000 implements MigrationInterface {
  name = "CreateNodes1732500000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS nodes (
      id VARCHAR(64) CHARACTER SET ascii NOT NULL,
      kind VARCHAR(16) CHARACTER SET ascii NOT NULL,
      address VARCHAR(255) NOT NULL,
      zone VARCHAR(64) NOT NULL,
      state VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'up',
      blob_count BIGINT NOT NULL DEFAULT 0,
      used_bytes BIGINT NOT NULL DEFAULT 0,
      free_bytes BIGINT NOT NULL DEFAULT 0,
      started_at DATETIME(3) NOT NULL,
      heartbeat_at DATETIME(3) NOT NULL,
      PRIMARY KEY (id)
    ) ENGINE=InnoDB`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP TABLE IF EXISTS nodes");
  }
}

/** The port a node serves Prometheus metrics on (MINIS3_METRICS_PORT), for /status; NULL when off. */
export const AddNodeMetricsPort1732500000800 = addColumn("AddNodeMetricsPort1732500000800", "nodes", "metrics_port", "INT UNSIGNED NULL");

/**
 * free_bytes may be NULL: a node that cannot know its free space says so (a backup node whose
 * MariaDB is on another host) rather than report 0, which reads as full. MODIFY is idempotent.
 */
export class AllowUnknownFreeBytes1732500000810 implements MigrationInterface {
  name = "AllowUnknownFreeBytes1732500000810";

  async up(q: QueryRunner): Promise<void> {
    await q.query("ALTER TABLE nodes MODIFY free_bytes BIGINT NULL DEFAULT NULL");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("UPDATE nodes SET free_bytes = 0 WHERE free_bytes IS NULL");
    await q.query("ALTER TABLE nodes MODIFY free_bytes BIGINT NOT NULL DEFAULT 0");
  }
}

/** The nodes table's migrations, in order. */
export const NODES_MIGRATIONS = [CreateNodes1732500000000, AddNodeMetricsPort1732500000800, AllowUnknownFreeBytes1732500000810];
