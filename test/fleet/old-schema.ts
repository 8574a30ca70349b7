/**
 * Files as older releases left them: `downgrade` takes a current store file back to an older
 * schema by undoing migrations, newest first, so a test can open it and watch the migrations run.
 * One entry per migration; add one with each new migration.
 */
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../../src/fleet';

/** UNDO[v] takes a file from schema v back to v - 1. */
const UNDO: Record<number, string> = {
  2: `DROP INDEX tasks_by_device; CREATE INDEX tasks_by_device ON tasks (product_key, device_name, module, state);
      CREATE INDEX tasks_due ON tasks (state, due_at) WHERE due_at IS NOT NULL;
      CREATE INDEX transitions_by_task ON transitions (task_id);
      CREATE INDEX transitions_by_batch ON transitions (batch_id, id);
      CREATE INDEX devices_by_version ON devices (product_key, module, version);`,
  3: 'ALTER TABLE firmware DROP COLUMN sequence; DROP TABLE release_sequences; ALTER TABLE batches DROP COLUMN unverified;',
  4: 'DROP TABLE credentials;',
  5: `DROP TRIGGER version_counts_insert; DROP TRIGGER version_counts_delete; DROP TRIGGER version_counts_update;
      DROP TABLE version_counts;`,
  6: `DROP TRIGGER batch_counts_insert; DROP TRIGGER batch_counts_delete; DROP TRIGGER batch_counts_update;
      DROP TABLE batch_counts; DROP INDEX tasks_by_batch;`,
};

/** Rewrites the closed store file at `file` to what schema `version` had (its data kept where the schema allows). */
export function downgrade(file: string, version: number): void {
  const db = new Database(file);
  try {
    for (let v = SCHEMA_VERSION; v > version; v--) {
      if (UNDO[v] === undefined) throw new Error(`test/fleet/old-schema.ts cannot undo migration ${v}: add it`);
      db.exec(UNDO[v]);
    }
    db.pragma(`user_version = ${version}`);
  } finally {
    db.close();
  }
}
