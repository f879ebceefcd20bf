import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The scrubber's one row (id = 1): who scrubs (a lease on the catalogue's clock, so one coordinator
 * scrubs at a time however many run), where its pass is (a keyset cursor on version_id that
 * survives restarts and hand-overs), and what it has found, for /status on any coordinator.
 */
export class CreateScrubState1732500000400 implements MigrationInterface {
  name = "CreateScrubState1732500000400";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS scrub_state (
      id TINYINT UNSIGNED NOT NULL,
      owner VARCHAR(255) CHARACTER SET ascii NOT NULL DEFAULT '',
      lease_until_ms BIGINT NOT NULL DEFAULT 0,
      cursor_id CHAR(28) CHARACTER SET ascii NOT NULL DEFAULT '' COMMENT 'last version checked in this pass',
      pass_started_ms BIGINT NULL,
      pass_versions BIGINT UNSIGNED NOT NULL DEFAULT 0,
      pass_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
      passes BIGINT UNSIGNED NOT NULL DEFAULT 0,
      last_pass_ended_ms BIGINT NULL,
      versions_checked BIGINT UNSIGNED NOT NULL DEFAULT 0,
      bytes_checked BIGINT UNSIGNED NOT NULL DEFAULT 0,
      corrupt_found BIGINT UNSIGNED NOT NULL DEFAULT 0,
      missing_found BIGINT UNSIGNED NOT NULL DEFAULT 0,
      unreachable BIGINT UNSIGNED NOT NULL DEFAULT 0,
      repairs_queued BIGINT UNSIGNED NOT NULL DEFAULT 0,
      orphans_deleted BIGINT UNSIGNED NOT NULL DEFAULT 0,
      PRIMARY KEY (id)
    ) ENGINE=InnoDB`);
    await q.query("INSERT IGNORE INTO scrub_state (id) VALUES (1)");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP TABLE IF EXISTS scrub_state");
  }
}
