import type { MigrationInterface, QueryRunner } from "typeorm";

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
export class AddCoordinatorBeat1732500000210 implements MigrationInterface {
  name = "AddCoordinatorBeat1732500000210";

  async up(q: QueryRunner): Promise<void> {
    await q.query("ALTER TABLE coordinators ADD COLUMN IF NOT EXISTS beat BIGINT UNSIGNED NOT NULL DEFAULT 0");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("ALTER TABLE coordinators DROP COLUMN IF EXISTS beat");
  }
}

/** The process id of each coordinator, so an operator (or a test) can find the one to stop or kill. */
export class AddCoordinatorPid1732500000220 implements MigrationInterface {
  name = "AddCoordinatorPid1732500000220";

  async up(q: QueryRunner): Promise<void> {
    await q.query("ALTER TABLE coordinators ADD COLUMN IF NOT EXISTS pid INT UNSIGNED NULL");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("ALTER TABLE coordinators DROP COLUMN IF EXISTS pid");
  }
}
