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
