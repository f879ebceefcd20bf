import type { MigrationInterface, QueryRunner } from "typeorm";
import { addColumn } from "../../common/db/add-column";

/** Coordinators announce themselves here (CoordinatorPresence): who else may be writing. */
export class CreateCoordinators1732500000200 implements MigrationInterface {
  name = "CreateCoordinators1732500000200";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS coordinators (
      id VARCHAR(255) CHARACTER SET ascii NOT NULL,
      state VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'up',
      started_at DATETIME(3) NOT NULL,
      heartbeat_at DATETIME(3) NOT NULL,
      PRIMARY KEY (id)
    ) ENGINE=InnoDB`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP TABLE IF EXISTS coordinators");
  }
}

/**
 * A counter each heartbeat bumps: peers judge a coordinator gone by how long its beat has not
 * changed on their own monotonic clock, never by comparing MariaDB times (CoordinatorPresence).
 */
export const AddCoordinatorBeat1732500000210 = addColumn(
  "AddCoordinatorBeat1732500000210",
  "coordinators",
  "beat",
  "BIGINT UNSIGNED NOT NULL DEFAULT 0",
);

/** The process id of each coordinator, so an operator (or a test) can find the one to stop or kill. */
export const AddCoordinatorPid1732500000220 = addColumn("AddCoordinatorPid1732500000220", "coordinators", "pid", "INT UNSIGNED NULL");

/**
 * The read caches' fence epoch (CacheFence): one row whose counter a writer bumps when it could not
 * tell its peers' caches of a change over Redis. Every coordinator reads it on its presence heartbeat.
 */
export class CreateCacheFence1732500000230 implements MigrationInterface {
  name = "CreateCacheFence1732500000230";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS cache_fence (
      id TINYINT UNSIGNED NOT NULL,
      epoch BIGINT UNSIGNED NOT NULL,
      PRIMARY KEY (id)
    ) ENGINE=InnoDB`);
    await q.query("INSERT IGNORE INTO cache_fence (id, epoch) VALUES (1, 0)");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP TABLE IF EXISTS cache_fence");
  }
}

/** Where each coordinator serves Prometheus metrics (a group's primary, for all its workers), for /status; NULL when off. */
export const AddCoordinatorMetricsPort1732500000240 = addColumn(
  "AddCoordinatorMetricsPort1732500000240",
  "coordinators",
  "metrics_port",
  "INT UNSIGNED NULL",
);

/**
 * Whether the coordinator's read cache has announced itself idle (serving nothing), and the number of
 * its announcement: a beat carrying an older one cannot undo a newer one (CoordinatorPresence,
 * announceCacheIdle). 0, the default, counts as caching, as a row of a coordinator before this column.
 */
export const AddCoordinatorCacheIdle1732500000250 = addColumn(
  "AddCoordinatorCacheIdle1732500000250",
  "coordinators",
  "cache_idle",
  "TINYINT UNSIGNED NOT NULL DEFAULT 0",
);
export const AddCoordinatorCacheSeq1732500000260 = addColumn(
  "AddCoordinatorCacheSeq1732500000260",
  "coordinators",
  "cache_seq",
  "BIGINT UNSIGNED NOT NULL DEFAULT 0",
);

/** Every migration of the coordinators' own tables, in order. */
export const COORDINATOR_MIGRATIONS = [
  CreateCoordinators1732500000200,
  AddCoordinatorBeat1732500000210,
  AddCoordinatorPid1732500000220,
  CreateCacheFence1732500000230,
  AddCoordinatorMetricsPort1732500000240,
  AddCoordinatorCacheIdle1732500000250,
  AddCoordinatorCacheSeq1732500000260,
];
