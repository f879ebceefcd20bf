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
