/**
 * The fleet's store in one SQLite file (better-sqlite3): WAL mode, prepared statements, schema
 * migrations. A commit is durable against a crash of the process (kill -9): WAL with
 * synchronous=NORMAL writes each commit to the log before returning. (Against power loss, set
 * `synchronous: 'FULL'`.)
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DeviceRef } from '../protocol';
import { FleetError } from './errors';
import { CheckpointState, CheckpointThreadOptions, checkpointInline, WalCheckpoints } from './sqlite-checkpoints';
import {
  BatchRow,
  DeviceRow,
  FirmwareRow,
  newTaskValues,
  TASK_COLUMNS,
  TaskRow,
  toBatch,
  toDevice,
  toFirmware,
  toTask,
  toTransition,
  transitionValues,
  TransitionRow,
  taskUpdateValues,
} from './rows';
import { ACTIVE_TASK_STATES, emptyCounts, TaskState } from './states';
import type { CredentialRecord, DeviceCredential } from './credentials';
import type {
  CandidatePage,
  CandidateQuery,
  CredentialQuery,
  DevicePage,
  DeviceQuery,
  FleetStore,
  NewBatch,
  NewTask,
  TaskPage,
  TaskQuery,
} from './store';
import type { Batch, DeviceModule, Firmware, Task, Transition, Verification, VersionCount } from './types';
import { notAsExpected, UniformTaskChange } from './uniform-change';

/** Each entry migrates the schema from version i to i + 1. Append only; never edit a shipped one. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE devices (
    product_key TEXT NOT NULL, device_name TEXT NOT NULL, module TEXT NOT NULL,
    version TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
    PRIMARY KEY (product_key, device_name, module)
  ) WITHOUT ROWID;
  CREATE INDEX devices_by_version ON devices (product_key, module, version);
  CREATE TABLE device_tags (
    product_key TEXT NOT NULL, device_name TEXT NOT NULL, tag TEXT NOT NULL,
    PRIMARY KEY (product_key, tag, device_name)
  ) WITHOUT ROWID;
  CREATE INDEX device_tags_by_device ON device_tags (product_key, device_name);
  CREATE TABLE firmware (
    id TEXT PRIMARY KEY, product_key TEXT NOT NULL, module TEXT NOT NULL, version TEXT NOT NULL,
    size INTEGER NOT NULL, md5 TEXT NOT NULL, sha256 TEXT NOT NULL, sign_method TEXT NOT NULL,
    url TEXT, hosted INTEGER NOT NULL, is_diff INTEGER NOT NULL, src_version TEXT, ext_data TEXT,
    digestsign TEXT, files TEXT, stream_id INTEGER NOT NULL UNIQUE, verification TEXT NOT NULL, created_at INTEGER NOT NULL,
    UNIQUE (product_key, module, version)
  );
  CREATE TABLE batches (
    id INTEGER PRIMARY KEY, firmware_id TEXT NOT NULL, type TEXT NOT NULL, state TEXT NOT NULL,
    targets TEXT NOT NULL, strategy TEXT NOT NULL, reason TEXT, wave INTEGER NOT NULL,
    direct INTEGER NOT NULL, egress TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
  );
  CREATE TABLE tasks (
    id INTEGER PRIMARY KEY, batch_id INTEGER NOT NULL, product_key TEXT NOT NULL,
    device_name TEXT NOT NULL, module TEXT NOT NULL, src_version TEXT, state TEXT NOT NULL,
    reason TEXT, step INTEGER, attempts INTEGER NOT NULL, retries INTEGER NOT NULL,
    wave INTEGER NOT NULL, due_at INTEGER, started_at INTEGER,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    UNIQUE (batch_id, product_key, device_name, module)
  );
  CREATE INDEX tasks_by_device ON tasks (product_key, device_name, module, state);
  CREATE INDEX tasks_by_batch_state ON tasks (batch_id, state, due_at);
  CREATE INDEX tasks_due ON tasks (state, due_at) WHERE due_at IS NOT NULL;
  CREATE TABLE transitions (
    id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, batch_id INTEGER NOT NULL,
    from_state TEXT, to_state TEXT NOT NULL, reason TEXT, step INTEGER, attempts INTEGER NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX transitions_by_task ON transitions (task_id);
  CREATE INDEX transitions_by_batch ON transitions (batch_id, id);
  `,
  // 2: fewer indexes to rewrite on every report. A state change now rewrites one index
  // (tasks_by_batch_state, which the scheduler and the counts need), not four: a device's tasks
  // are indexed by device only (it has one per batch; the fleet caches the active one), deadlines
  // are found per batch, transitions are read by scanning (the API's history, rarely asked for),
  // and versions by scanning a product (the distribution is asked for rarely, reports arrive all
  // the time).
  `
  DROP INDEX tasks_by_device;
  CREATE INDEX tasks_by_device ON tasks (product_key, device_name);
  DROP INDEX tasks_due;
  DROP INDEX transitions_by_task;
  DROP INDEX transitions_by_batch;
  DROP INDEX devices_by_version;
  `,
  // 3: release sequences, the number a signed release manifest carries so that a device can refuse
  // an older release replayed to it. One counter per product and module that only grows: it is
  // kept apart from the firmware rows so that deleting the newest firmware never frees its number.
  // Firmware already stored is numbered in the order it was added. A direct push may go out
  // unverified only when the ota-push node that started it allows it (batches.unverified).
  `
  ALTER TABLE firmware ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
  UPDATE firmware SET sequence = (
    SELECT COUNT(*) FROM firmware AS f WHERE f.product_key = firmware.product_key AND f.module = firmware.module
      AND (f.created_at < firmware.created_at OR (f.created_at = firmware.created_at AND f.rowid <= firmware.rowid))
  );
  CREATE TABLE release_sequences (
    product_key TEXT NOT NULL, module TEXT NOT NULL, last INTEGER NOT NULL,
    PRIMARY KEY (product_key, module)
  ) WITHOUT ROWID;
  INSERT INTO release_sequences (product_key, module, last)
    SELECT product_key, module, MAX(sequence) FROM firmware GROUP BY product_key, module;
  ALTER TABLE batches ADD COLUMN unverified INTEGER NOT NULL DEFAULT 0;
  `,
  // 4: the device registry. The secrets devices log in with, as given: the broker's login check
  // computes an HMAC with them, so they cannot be hashed. No API answer ever carries them.
  `
  CREATE TABLE credentials (
    product_key TEXT NOT NULL, device_name TEXT NOT NULL, device_secret TEXT NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (product_key, device_name)
  ) WITHOUT ROWID;
  `,
  // 5: the version distribution kept as counters, one row per product, module and version. The
  // editor and the admin API ask for it often, and counting a million devices takes half a second.
  // Triggers keep the counters in the statement that writes the device row, so they commit or roll
  // back with it and no crash can set them apart; any writer of devices (this store, a bulk load,
  // an operator's sqlite3) is counted. A report of the same version (every boot) only refreshes
  // last_seen: the WHEN clause leaves the counters alone. A counter that reaches 0 is deleted.
  // (INSERT OR REPLACE would escape the delete trigger without recursive_triggers: devices never
  // uses it.) The counters start from one count of the devices already stored.
  `
  CREATE TABLE version_counts (
    product_key TEXT NOT NULL, module TEXT NOT NULL, version TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (product_key, module, version)
  ) WITHOUT ROWID;
  INSERT INTO version_counts (product_key, module, version, count)
    SELECT product_key, module, version, COUNT(*) FROM devices GROUP BY product_key, module, version;
  CREATE TRIGGER version_counts_insert AFTER INSERT ON devices BEGIN
    INSERT INTO version_counts (product_key, module, version, count) VALUES (new.product_key, new.module, new.version, 1)
      ON CONFLICT (product_key, module, version) DO UPDATE SET count = count + 1;
  END;
  CREATE TRIGGER version_counts_delete AFTER DELETE ON devices BEGIN
    UPDATE version_counts SET count = count - 1 WHERE product_key = old.product_key AND module = old.module AND version = old.version;
    DELETE FROM version_counts WHERE product_key = old.product_key AND module = old.module AND version = old.version AND count = 0;
  END;
  CREATE TRIGGER version_counts_update AFTER UPDATE OF product_key, module, version ON devices
  WHEN old.version IS NOT new.version OR old.product_key IS NOT new.product_key OR old.module IS NOT new.module
  BEGIN
    UPDATE version_counts SET count = count - 1 WHERE product_key = old.product_key AND module = old.module AND version = old.version;
    DELETE FROM version_counts WHERE product_key = old.product_key AND module = old.module AND version = old.version AND count = 0;
    INSERT INTO version_counts (product_key, module, version, count) VALUES (new.product_key, new.module, new.version, 1)
      ON CONFLICT (product_key, module, version) DO UPDATE SET count = count + 1;
  END;
  `,
  // 6: paging and counting a large batch without reading all its tasks. Task pages walk a batch by
  // id from a cursor (`after`): tasks_by_batch (batch_id, then the rowid an index ends with) gives
  // that order and no state change rewrites it. A page of one state walks the same order and skips
  // the other states, reading a bounded stretch of the batch (taskPage): an index on (batch_id,
  // state, id) would serve it without skipping, but every state change would rewrite one more
  // index entry, and that cost more than the pages save (BENCHMARKS.md section 8). The task counts
  // per batch and state are kept as counters like the version counts (5), by triggers in the
  // statement that writes the task, so opening a fleet reads a few rows instead of grouping every
  // task. A state change is one UPSERT of two rows (-1 on the old counter, +1 on the new); a write
  // that changes neither state nor batch (a step report, a new deadline) runs no trigger statement
  // (the WHEN clause). A counter that reaches 0 stays (at most one row per batch and state; deleting
  // it would be one more statement in every state change). The counters start from one count of
  // the tasks stored.
  `
  CREATE INDEX tasks_by_batch ON tasks (batch_id);
  CREATE TABLE batch_counts (
    batch_id INTEGER NOT NULL, state TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (batch_id, state)
  ) WITHOUT ROWID;
  INSERT INTO batch_counts (batch_id, state, count) SELECT batch_id, state, COUNT(*) FROM tasks GROUP BY batch_id, state;
  CREATE TRIGGER batch_counts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO batch_counts (batch_id, state, count) VALUES (new.batch_id, new.state, 1)
      ON CONFLICT (batch_id, state) DO UPDATE SET count = count + 1;
  END;
  CREATE TRIGGER batch_counts_delete AFTER DELETE ON tasks BEGIN
    UPDATE batch_counts SET count = count - 1 WHERE batch_id = old.batch_id AND state = old.state;
  END;
  CREATE TRIGGER batch_counts_update AFTER UPDATE OF batch_id, state ON tasks
  WHEN old.state IS NOT new.state OR old.batch_id IS NOT new.batch_id
  BEGIN
    INSERT INTO batch_counts (batch_id, state, count) VALUES (old.batch_id, old.state, -1), (new.batch_id, new.state, 1)
      ON CONFLICT (batch_id, state) DO UPDATE SET count = count + excluded.count;
  END;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

const ACTIVE = `(${ACTIVE_TASK_STATES.map((s) => `'${s}'`).join(', ')})`;

const INSERT_TASKS = `INSERT INTO tasks (batch_id, product_key, device_name, module, src_version, state, reason, step, attempts,
  retries, wave, due_at, started_at, created_at, updated_at)`;
const TASK_ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const TASK_ROWS_PER_INSERT = 100;

/** Devices a filtered page reads at most (devicePage): about 5 ms of the event loop. */
const DEVICE_SCAN = 50_000;

/** Tasks a page of one state reads at most (taskPage), as for devices. */
const TASK_SCAN = 50_000;

interface CredentialRow {
  product_key: string;
  device_name: string;
  created_at: number;
}

interface VersionCountRow {
  product_key: string;
  module: string;
  version: string;
  count: number;
}

export interface SqliteStoreOptions {
  synchronous?: 'NORMAL' | 'FULL';
  /** Caps the file at this many pages (a full disk, for fault tests). */
  maxPageCount?: number;
  /**
   * Checkpoints of the write-ahead log on a thread of their own once the store is busy (SQLite has
   * started its log again twice within 10 s; sqlite-checkpoints.ts); false: SQLite's automatic
   * checkpoint inside the commits only.
   */
  checkpointThread?: CheckpointThreadOptions | false;
}

export class SqliteStore implements FleetStore {
  private readonly db: Database.Database;
  private readonly s;
  private readonly checkpoints: WalCheckpoints | undefined;

  constructor(
    readonly file: string,
    options: SqliteStoreOptions = {},
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    // A 16 MB page cache keeps the indexes of a large fleet in memory.
    this.db.pragma('cache_size = -16000');
    this.checkpoints =
      file === ':memory:' || options.checkpointThread === false
        ? undefined
        : new WalCheckpoints(this.db, file, options.synchronous ?? 'NORMAL', options.checkpointThread);
    if (!this.checkpoints) checkpointInline(this.db);
    this.migrate();
    if (options.maxPageCount) this.db.pragma(`max_page_count = ${Math.floor(options.maxPageCount)}`);
    this.s = this.prepare();
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new FleetError(
        'OTA_STORE',
        `${this.file} was written by a newer node-red-contrib-mqtt-ota (schema ${current}, this one knows ${SCHEMA_VERSION}); upgrade the package`,
      );
    }
    if (current === 0) this.db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    for (let v = current; v < SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      getVersion: db.prepare<[string, string, string], { version: string }>(
        'SELECT version FROM devices WHERE product_key = ? AND device_name = ? AND module = ?',
      ),
      upsertDevice: db.prepare(
        `INSERT INTO devices (product_key, device_name, module, version, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (product_key, device_name, module) DO UPDATE SET version = excluded.version, last_seen = excluded.last_seen`,
      ),
      versionCountsAll: db.prepare<[], VersionCountRow>(
        'SELECT * FROM version_counts ORDER BY product_key, module, count DESC, version',
      ),
      versionCountsOf: db.prepare<[string], VersionCountRow>(
        'SELECT * FROM version_counts WHERE product_key = ? ORDER BY module, count DESC, version',
      ),
      deviceModules: db.prepare<[string, string], DeviceRow>(
        'SELECT * FROM devices WHERE product_key = ? AND device_name = ? ORDER BY module',
      ),
      putCredential: db.prepare(
        `INSERT INTO credentials (product_key, device_name, device_secret, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (product_key, device_name) DO UPDATE SET device_secret = excluded.device_secret, created_at = excluded.created_at`,
      ),
      deleteCredential: db.prepare('DELETE FROM credentials WHERE product_key = ? AND device_name = ?'),
      deviceSecret: db.prepare<[string, string], { device_secret: string }>(
        'SELECT device_secret FROM credentials WHERE product_key = ? AND device_name = ?',
      ),
      credentialsAll: db.prepare<[number, number], CredentialRow>(
        'SELECT product_key, device_name, created_at FROM credentials ORDER BY product_key, device_name LIMIT ? OFFSET ?',
      ),
      credentialsOf: db.prepare<[string, number, number], CredentialRow>(
        'SELECT product_key, device_name, created_at FROM credentials WHERE product_key = ? ORDER BY device_name LIMIT ? OFFSET ?',
      ),
      deleteTags: db.prepare('DELETE FROM device_tags WHERE product_key = ? AND device_name = ?'),
      insertTag: db.prepare('INSERT OR IGNORE INTO device_tags (product_key, device_name, tag) VALUES (?, ?, ?)'),
      tagsOf: db.prepare<[string, string], { tag: string }>(
        'SELECT tag FROM device_tags WHERE product_key = ? AND device_name = ? ORDER BY tag',
      ),
      hasTag: db.prepare<[string, string, string], { one: number }>(
        'SELECT 1 AS one FROM device_tags WHERE product_key = ? AND tag = ? AND device_name = ?',
      ),
      insertFirmware: db.prepare(
        `INSERT INTO firmware (id, product_key, module, version, size, md5, sha256, sign_method, url, hosted, is_diff,
           src_version, ext_data, digestsign, files, stream_id, verification, sequence, created_at)
         VALUES (@id, @productKey, @module, @version, @size, @md5, @sha256, @signMethod, @url, @hosted, @isDiff,
           @srcVersion, @extData, @digestsign, @files, @streamId, @verification, @sequence, @createdAt)`,
      ),
      nextSequence: db.prepare<[string, string], { last: number }>(
        `INSERT INTO release_sequences (product_key, module, last) VALUES (?, ?, 1)
         ON CONFLICT (product_key, module) DO UPDATE SET last = last + 1 RETURNING last`,
      ),
      verifiedBySha256: db.prepare<[string, string], FirmwareRow>(
        "SELECT * FROM firmware WHERE product_key = ? AND sha256 = ? AND verification IN ('verified', 'not-required') ORDER BY created_at LIMIT 1",
      ),
      verifiedByMd5: db.prepare<[string, string], FirmwareRow>(
        "SELECT * FROM firmware WHERE product_key = ? AND md5 = ? AND verification IN ('verified', 'not-required') ORDER BY created_at LIMIT 1",
      ),
      firmware: db.prepare<[string], FirmwareRow>('SELECT * FROM firmware WHERE id = ?'),
      firmwareByVersion: db.prepare<[string, string, string], FirmwareRow>(
        'SELECT * FROM firmware WHERE product_key = ? AND module = ? AND version = ?',
      ),
      firmwareByStream: db.prepare<[number], FirmwareRow>('SELECT * FROM firmware WHERE stream_id = ?'),
      allFirmware: db.prepare<[], FirmwareRow>('SELECT * FROM firmware ORDER BY created_at, rowid'),
      productFirmware: db.prepare<[string], FirmwareRow>(
        'SELECT * FROM firmware WHERE product_key = ? ORDER BY created_at, rowid',
      ),
      setVerification: db.prepare('UPDATE firmware SET verification = ? WHERE id = ?'),
      setFirmwareUrl: db.prepare('UPDATE firmware SET url = ? WHERE id = ?'),
      deleteFirmware: db.prepare('DELETE FROM firmware WHERE id = ?'),
      maxStream: db.prepare<[], { n: number | null }>('SELECT MAX(stream_id) AS n FROM firmware'),
      filesUsed: db.prepare<[string], { n: number }>(
        'SELECT COUNT(*) AS n FROM firmware WHERE sha256 = ? AND hosted = 1',
      ),
      insertBatch: db.prepare(
        `INSERT INTO batches (firmware_id, type, state, targets, strategy, reason, wave, direct, unverified, egress, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      batch: db.prepare<[number], BatchRow>('SELECT * FROM batches WHERE id = ?'),
      allBatches: db.prepare<[], BatchRow>('SELECT * FROM batches ORDER BY id'),
      openBatches: db.prepare<[], BatchRow>(
        "SELECT * FROM batches WHERE state IN ('PLANNED', 'IN_PROGRESS', 'PAUSED') ORDER BY id",
      ),
      updateBatch: db.prepare(
        'UPDATE batches SET state = ?, reason = ?, wave = ?, egress = ?, updated_at = ? WHERE id = ?',
      ),
      batchesUsing: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM batches WHERE firmware_id = ?'),
      openBatchesUsing: db.prepare<[string], { n: number }>(
        "SELECT COUNT(*) AS n FROM batches WHERE firmware_id = ? AND state IN ('PLANNED', 'IN_PROGRESS', 'PAUSED')",
      ),
      // Many tasks per statement (a batch of 100,000 is 1,000 statements, not 100,000).
      insertTaskRows: db.prepare(`${INSERT_TASKS} VALUES ${Array(TASK_ROWS_PER_INSERT).fill(TASK_ROW).join(', ')}`),
      insertTaskRow: db.prepare(`${INSERT_TASKS} VALUES ${TASK_ROW}`),
      task: db.prepare<[number], TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`).raw(true),
      taskOf: db
        .prepare<[number, string, string, string], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks WHERE batch_id = ? AND product_key = ? AND device_name = ? AND module = ?`,
        )
        .raw(true),
      taskOfAnyModule: db
        .prepare<[number, string, string], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks WHERE batch_id = ? AND product_key = ? AND device_name = ? ORDER BY id LIMIT 1`,
        )
        .raw(true),
      activeTask: db
        .prepare<[string, string, string], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks WHERE product_key = ? AND device_name = ? AND module = ? AND state IN ${ACTIVE} ORDER BY id DESC LIMIT 1`,
        )
        .raw(true),
      activeTasks: db
        .prepare<[string, string], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks WHERE product_key = ? AND device_name = ? AND state IN ${ACTIVE} ORDER BY id`,
        )
        .raw(true),
      activeTasksOf: db
        .prepare<[string, string], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks WHERE product_key = ? AND module = ? AND state IN ${ACTIVE}`,
        )
        .raw(true),
      // INDEXED BY: the planner, without statistics, might pick tasks_by_batch_state and sort. A
      // state filter reads the batch in id order and skips the other states (migration 6).
      tasksOfAll: db
        .prepare<[number, number, number, number], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks INDEXED BY tasks_by_batch WHERE batch_id = ? AND id > ? ORDER BY id LIMIT ? OFFSET ?`,
        )
        .raw(true),
      tasksOfState: db
        .prepare<[number, string, number, number, number], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks INDEXED BY tasks_by_batch WHERE batch_id = ? AND state = ? AND id > ? ORDER BY id LIMIT ? OFFSET ?`,
        )
        .raw(true),
      // Where a page of one state stops reading: the id TASK_SCAN - 1 tasks after the cursor (the index alone).
      taskScanEnd: db.prepare<[number, number, number], { id: number }>(
        'SELECT id FROM tasks INDEXED BY tasks_by_batch WHERE batch_id = ? AND id > ? ORDER BY id LIMIT 1 OFFSET ?',
      ),
      taskPageOfState: db
        .prepare<[number, number, number, string, number], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks INDEXED BY tasks_by_batch WHERE batch_id = ? AND id > ? AND id <= ? AND state = ? ORDER BY id LIMIT ?`,
        )
        .raw(true),
      // Every task in one state, in the index's order (deadline, then id): no sort, no other state read.
      tasksInState: db
        .prepare<[number, string], TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE batch_id = ? AND state = ?`)
        .raw(true),
      tasksOfDevice: db
        .prepare<[string, string], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks WHERE product_key = ? AND device_name = ? ORDER BY id`,
        )
        .raw(true),
      saveStep: db.prepare('UPDATE tasks SET step = ?, updated_at = ? WHERE id = ?'),
      saveTask: db.prepare(
        `UPDATE tasks SET state = ?, reason = ?, step = ?, attempts = ?, retries = ?, wave = ?, due_at = ?, started_at = ?,
           src_version = ?, updated_at = ? WHERE id = ?`,
      ),
      insertTransition: db.prepare(
        'INSERT INTO transitions (task_id, batch_id, from_state, to_state, reason, step, attempts, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      // A uniform change (uniform-change.ts): the rows by rowid from a JSON array of ids, then their
      // transitions in the array's order, each with the row's reason, step and new attempts.
      saveUniform: db.prepare(
        'UPDATE tasks SET state = ?, attempts = attempts + ?, due_at = ?, updated_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND state = ?',
      ),
      insertUniformTransitions: db.prepare(
        `INSERT INTO transitions (task_id, batch_id, from_state, to_state, reason, step, attempts, at)
         SELECT t.id, t.batch_id, ?, ?, t.reason, t.step, t.attempts, ? FROM json_each(?) AS j JOIN tasks AS t ON t.id = j.value
         ORDER BY j.key`,
      ),
      countsAll: db.prepare<[], { batch_id: number; state: TaskState; n: number }>(
        'SELECT batch_id, state, count AS n FROM batch_counts WHERE count > 0',
      ),
      countsOne: db.prepare<[number], { batch_id: number; state: TaskState; n: number }>(
        'SELECT batch_id, state, count AS n FROM batch_counts WHERE batch_id = ? AND count > 0',
      ),
      dueTasks: db
        .prepare<[number, string, number, number], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks WHERE batch_id = ? AND state = ? AND due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?`,
        )
        .raw(true),
      tasksUnchangedSince: db
        .prepare<[number, string, number, number, number], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks INDEXED BY tasks_by_batch WHERE batch_id = ? AND state = ? AND id > ? AND updated_at < ? ORDER BY id LIMIT ?`,
        )
        .raw(true),
      nextDue: db.prepare<[number, string], { t: number | null }>(
        'SELECT MIN(due_at) AS t FROM tasks WHERE batch_id = ? AND state = ? AND due_at IS NOT NULL',
      ),
      openWave: db.prepare(
        "UPDATE tasks SET due_at = ? WHERE batch_id = ? AND wave = ? AND state = 'QUEUED' AND due_at IS NULL",
      ),
      waveCounts: db.prepare<[number, number], { state: TaskState; n: number }>(
        'SELECT state, COUNT(*) AS n FROM tasks WHERE batch_id = ? AND wave = ? GROUP BY state',
      ),
      transitionsOfTask: db.prepare<[number, number], TransitionRow>(
        `SELECT tr.*, t.product_key, t.device_name, t.module FROM transitions tr JOIN tasks t ON t.id = tr.task_id
         WHERE tr.task_id = ? ORDER BY tr.id LIMIT ?`,
      ),
      transitionsOfBatch: db.prepare<[number, number], TransitionRow>(
        `SELECT tr.*, t.product_key, t.device_name, t.module FROM transitions tr JOIN tasks t ON t.id = tr.task_id
         WHERE tr.batch_id = ? ORDER BY tr.id LIMIT ?`,
      ),
      transitionsAll: db.prepare<[number], TransitionRow>(
        `SELECT tr.*, t.product_key, t.device_name, t.module FROM transitions tr JOIN tasks t ON t.id = tr.task_id
         ORDER BY tr.id LIMIT ?`,
      ),
    };
  }

  /** One wrapper made once: better-sqlite3 builds a function per db.transaction() call. Nested calls are savepoints. */
  private readonly inTransaction = (() => {
    let wrapper: ((fn: () => unknown) => unknown) | undefined;
    return <T>(fn: () => T): T => {
      wrapper ??= this.db.transaction((f: () => unknown) => f());
      return wrapper(fn) as T;
    };
  })();

  transaction<T>(fn: () => T): T {
    const result = this.inTransaction(fn);
    if (!this.db.inTransaction) this.checkpoints?.committed();
    return result;
  }

  /** Closes the store's connection; a checkpoint thread closes its own after it (whenClosed). */
  close(): void {
    if (this.db.open) this.db.close();
    this.checkpoints?.close();
  }

  /**
   * Resolves once every connection to the file is closed: the checkpoint thread's, if it ran, makes
   * the last checkpoint and removes the log after close() returns.
   */
  whenClosed(): Promise<void> {
    return this.checkpoints?.finished ?? Promise.resolve();
  }

  /** Who checkpoints the write-ahead log now, and how often it has (undefined: a database in memory). */
  get checkpointState(): CheckpointState | undefined {
    return this.checkpoints?.state;
  }

  /** Opens a transaction by hand (promisedStore: a transaction whose operations await between them). */
  begin(): void {
    this.db.exec('BEGIN IMMEDIATE');
  }

  commit(): void {
    this.db.exec('COMMIT');
    this.checkpoints?.committed();
  }

  rollback(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  savepoint(name: string, verb: 'savepoint' | 'release' | 'rollbackTo'): void {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not a savepoint name`);
    this.db.exec(`${verb === 'savepoint' ? 'SAVEPOINT' : verb === 'release' ? 'RELEASE' : 'ROLLBACK TO'} ${name}`);
  }

  /** Refuses every write from now on (or again accepts them): maintenance, and fault tests. */
  setReadOnly(readOnly: boolean): void {
    this.db.pragma(`query_only = ${readOnly ? 'ON' : 'OFF'}`);
  }

  /** Caps the file at its current size plus `extraPages` (a disk about to be full), or lifts the cap. */
  limitGrowth(extraPages: number | undefined): void {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    this.db.pragma(`max_page_count = ${extraPages === undefined ? 1073741823 : pages + extraPages}`);
  }

  getMeta(key: string): string | undefined {
    return this.s.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.s.setMeta.run(key, value);
  }

  recordVersion(device: DeviceRef, module: string, version: string, at: number): void {
    this.s.upsertDevice.run(device.productKey, device.deviceName, module, version, at, at);
  }

  deviceVersion(device: DeviceRef, module: string): string | undefined {
    return this.s.getVersion.get(device.productKey, device.deviceName, module)?.version;
  }

  deviceModules(device: DeviceRef): DeviceModule[] {
    return this.s.deviceModules.all(device.productKey, device.deviceName).map(toDevice);
  }

  private deviceWhere(q: DeviceQuery): { sql: string; args: unknown[] } {
    const clauses: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      clauses.push(clause);
      args.push(value);
    };
    if (q.productKey) add('product_key = ?', q.productKey);
    if (q.module) add('module = ?', q.module);
    if (q.version) add('version = ?', q.version);
    if (q.search) add('instr(device_name, ?) > 0', q.search);
    if (q.after) {
      // A row value compares as the primary key orders, so the search starts at the cursor. With
      // product_key fixed the planner searches by it alone, unless the range names the rest.
      if (q.after.productKey === q.productKey) {
        clauses.push('(device_name, module) > (?, ?)');
        args.push(q.after.deviceName, q.after.module);
      } else {
        clauses.push('(product_key, device_name, module) > (?, ?, ?)');
        args.push(q.after.productKey, q.after.deviceName, q.after.module);
      }
    }
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', args };
  }

  listDevices(q: DeviceQuery): DeviceModule[] {
    const { sql, args } = this.deviceWhere(q);
    const rows = this.db
      .prepare(`SELECT * FROM devices ${sql} ORDER BY product_key, device_name, module LIMIT ? OFFSET ?`)
      .all(...args, q.limit ?? 1000, q.offset ?? 0) as DeviceRow[];
    return rows.map(toDevice);
  }

  /**
   * A page of devices for a client that pages by cursor. A version or a part of a name is not in
   * the list's order, so a rare one would read a whole product for one page: with either, the page
   * reads at most DEVICE_SCAN devices from its cursor, and when it stops before `limit` matches,
   * `next` is the last device it read, where the next page starts.
   */
  devicePage(q: DeviceQuery): DevicePage {
    if ((!q.version && !q.search) || q.offset) return { devices: this.listDevices(q) };
    const limit = q.limit ?? 1000;
    const scan = this.deviceWhere({ ...q, version: undefined, search: undefined });
    const match = this.deviceWhere({ version: q.version, search: q.search });
    const order = 'ORDER BY product_key, device_name, module';
    const rows = this.db
      .prepare(`SELECT * FROM (SELECT * FROM devices ${scan.sql} ${order} LIMIT ?) ${match.sql} LIMIT ?`)
      .all(...scan.args, DEVICE_SCAN, ...match.args, limit) as DeviceRow[];
    const devices = rows.map(toDevice);
    if (devices.length >= limit) return { devices };
    const last = this.db
      .prepare(`SELECT product_key, device_name, module FROM devices ${scan.sql} ${order} LIMIT 1 OFFSET ?`)
      .get(...scan.args, DEVICE_SCAN - 1) as DeviceRow | undefined;
    return last
      ? { devices, next: { productKey: last.product_key, deviceName: last.device_name, module: last.module } }
      : { devices };
  }

  countDevices(q: DeviceQuery): number {
    const { sql, args } = this.deviceWhere({ ...q, after: undefined });
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM devices ${sql}`).get(...args) as { n: number }).n;
  }

  /** Read from the counters the triggers keep (migration 5): as many rows as versions, not devices. */
  versionDistribution(productKey?: string): VersionCount[] {
    const rows = productKey ? this.s.versionCountsOf.all(productKey) : this.s.versionCountsAll.all();
    return rows.map((r) => ({ productKey: r.product_key, module: r.module, version: r.version, count: r.count }));
  }

  setTags(device: DeviceRef, tags: string[]): void {
    this.transaction(() => {
      this.s.deleteTags.run(device.productKey, device.deviceName);
      for (const tag of tags) this.s.insertTag.run(device.productKey, device.deviceName, tag);
    });
  }

  tagsOf(device: DeviceRef): string[] {
    return this.s.tagsOf.all(device.productKey, device.deviceName).map((r) => r.tag);
  }

  hasTag(device: DeviceRef, tag: string): boolean {
    return this.s.hasTag.get(device.productKey, tag, device.deviceName) !== undefined;
  }

  candidates(q: CandidateQuery): { deviceName: string; version: string | null }[] {
    const args: unknown[] = [q.productKey, q.module];
    let sql: string;
    if (q.devices) {
      // Listed devices count even if they never reported (version null).
      sql = `SELECT l.value AS device_name, d.version AS version FROM json_each(?) l
             LEFT JOIN devices d ON d.product_key = ? AND d.module = ? AND d.device_name = l.value`;
      args.unshift(JSON.stringify(q.devices));
    } else if (q.tag !== undefined) {
      sql = `SELECT d.device_name, d.version FROM devices d JOIN device_tags g
             ON g.product_key = d.product_key AND g.device_name = d.device_name AND g.tag = ?
             WHERE d.product_key = ? AND d.module = ?`;
      args.unshift(q.tag);
    } else {
      sql = 'SELECT d.device_name, d.version FROM devices d WHERE d.product_key = ? AND d.module = ?';
    }
    const rows = this.db.prepare(sql).all(...args) as { device_name: string; version: string | null }[];
    const src = q.srcVersions && q.srcVersions.length ? new Set(q.srcVersions) : undefined;
    const out: { deviceName: string; version: string | null }[] = [];
    for (const r of rows) {
      if (r.version === q.excludeVersion) continue;
      if (src && (r.version === null || !src.has(r.version))) continue;
      out.push({ deviceName: r.device_name, version: r.version });
    }
    return out;
  }

  putCredentials(credentials: DeviceCredential[], at: number): void {
    this.transaction(() => {
      for (const c of credentials) this.s.putCredential.run(c.productKey, c.deviceName, c.deviceSecret, at);
    });
  }

  deleteCredential(device: DeviceRef): boolean {
    return this.s.deleteCredential.run(device.productKey, device.deviceName).changes > 0;
  }

  deviceSecret(device: DeviceRef): string | undefined {
    return this.s.deviceSecret.get(device.productKey, device.deviceName)?.device_secret;
  }

  listCredentials(q: CredentialQuery): CredentialRecord[] {
    const limit = q.limit ?? 1000;
    const offset = q.offset ?? 0;
    const rows = q.productKey
      ? this.s.credentialsOf.all(q.productKey, limit, offset)
      : this.s.credentialsAll.all(limit, offset);
    return rows.map((r) => ({ productKey: r.product_key, deviceName: r.device_name, createdAt: r.created_at }));
  }

  insertFirmware(fw: Firmware): void {
    this.s.insertFirmware.run({
      id: fw.id,
      productKey: fw.productKey,
      module: fw.module,
      version: fw.version,
      size: fw.size,
      md5: fw.md5,
      sha256: fw.sha256,
      signMethod: fw.signMethod,
      url: fw.url ?? null,
      hosted: fw.hosted ? 1 : 0,
      isDiff: fw.isDiff ? 1 : 0,
      srcVersion: fw.srcVersion ?? null,
      extData: fw.extData ? JSON.stringify(fw.extData) : null,
      digestsign: fw.digestsign ?? null,
      files: fw.files ? JSON.stringify(fw.files) : null,
      streamId: fw.streamId,
      verification: fw.verification,
      sequence: fw.sequence,
      createdAt: fw.createdAt,
    });
  }

  nextReleaseSequence(productKey: string, module: string): number {
    return (this.s.nextSequence.get(productKey, module) as { last: number }).last;
  }

  verifiedFirmwareByDigest(productKey: string, digest: { sha256?: string; md5?: string }): Firmware | undefined {
    const row = digest.sha256
      ? this.s.verifiedBySha256.get(productKey, digest.sha256)
      : digest.md5
        ? this.s.verifiedByMd5.get(productKey, digest.md5)
        : undefined;
    return row && toFirmware(row);
  }

  firmware(id: string): Firmware | undefined {
    const row = this.s.firmware.get(id);
    return row && toFirmware(row);
  }

  firmwareByVersion(productKey: string, module: string, version: string): Firmware | undefined {
    const row = this.s.firmwareByVersion.get(productKey, module, version);
    return row && toFirmware(row);
  }

  firmwareByStream(streamId: number): Firmware | undefined {
    const row = this.s.firmwareByStream.get(streamId);
    return row && toFirmware(row);
  }

  listFirmware(productKey?: string): Firmware[] {
    return (productKey ? this.s.productFirmware.all(productKey) : this.s.allFirmware.all()).map(toFirmware);
  }

  setVerification(id: string, verification: Verification): void {
    this.s.setVerification.run(verification, id);
  }

  setFirmwareUrl(id: string, url: string): void {
    this.s.setFirmwareUrl.run(url, id);
  }

  deleteFirmware(id: string): void {
    this.s.deleteFirmware.run(id);
  }

  nextStreamId(): number {
    return (this.s.maxStream.get()?.n ?? 1000) + 1;
  }

  firmwareUsingFile(sha256: string): number {
    return this.s.filesUsed.get(sha256)?.n ?? 0;
  }

  insertBatch(b: NewBatch): number {
    const result = this.s.insertBatch.run(
      b.firmwareId,
      b.type,
      b.state,
      JSON.stringify(b.targets),
      JSON.stringify(b.strategy),
      b.reason ?? null,
      b.wave,
      b.direct ? 1 : 0,
      b.allowUnverified ? 1 : 0,
      b.egress ?? null,
      b.createdAt,
      b.updatedAt,
    );
    return Number(result.lastInsertRowid);
  }

  batch(id: number): Batch | undefined {
    const row = this.s.batch.get(id);
    return row && toBatch(row);
  }

  listBatches(): Batch[] {
    return this.s.allBatches.all().map(toBatch);
  }

  openBatches(): Batch[] {
    return this.s.openBatches.all().map(toBatch);
  }

  updateBatch(b: Batch): void {
    this.s.updateBatch.run(b.state, b.reason ?? null, b.wave, b.egress ?? null, b.updatedAt, b.id);
  }

  batchesUsingFirmware(firmwareId: string, openOnly: boolean): number {
    return (openOnly ? this.s.openBatchesUsing : this.s.batchesUsing).get(firmwareId)?.n ?? 0;
  }

  insertTasks(tasks: NewTask[]): void {
    // All or none, also outside a transaction (inside one, a savepoint).
    this.transaction(() => {
      let i = 0;
      for (; i + TASK_ROWS_PER_INSERT <= tasks.length; i += TASK_ROWS_PER_INSERT) {
        this.s.insertTaskRows.run(tasks.slice(i, i + TASK_ROWS_PER_INSERT).flatMap(newTaskValues));
      }
      for (; i < tasks.length; i++) this.s.insertTaskRow.run(newTaskValues(tasks[i]));
    });
  }

  task(id: number): Task | undefined {
    const row = this.s.task.get(id);
    return row && toTask(row);
  }

  taskOf(batchId: number, device: DeviceRef, module?: string): Task | undefined {
    const row =
      module === undefined
        ? this.s.taskOfAnyModule.get(batchId, device.productKey, device.deviceName)
        : this.s.taskOf.get(batchId, device.productKey, device.deviceName, module);
    return row && toTask(row);
  }

  activeTask(device: DeviceRef, module: string): Task | undefined {
    const row = this.s.activeTask.get(device.productKey, device.deviceName, module);
    return row && toTask(row);
  }

  activeTasks(device: DeviceRef): Task[] {
    return this.s.activeTasks.all(device.productKey, device.deviceName).map(toTask);
  }

  activeTasksOf(productKey: string, module: string): Map<string, Task> {
    const map = new Map<string, Task>();
    for (const row of this.s.activeTasksOf.iterate(productKey, module)) map.set(row[3], toTask(row));
    return map;
  }

  tasksOf(batchId: number, q: TaskQuery): Task[] {
    const limit = q.limit ?? 1000;
    const offset = q.offset ?? 0;
    const after = q.after ?? -1;
    const rows = q.state
      ? this.s.tasksOfState.all(batchId, q.state, after, limit, offset)
      : this.s.tasksOfAll.all(batchId, after, limit, offset);
    return rows.map(toTask);
  }

  /**
   * A page of a batch's tasks for a client that pages by cursor. A page of one state reads at most
   * TASK_SCAN tasks of the batch from its cursor, so a rare state costs no more than a common one:
   * when it stops before `limit` matches, `next` is the last task it read, where the next page
   * starts (the page may be short, or empty, and still have a next one).
   */
  taskPage(batchId: number, q: TaskQuery): TaskPage {
    if (!q.state || q.offset) return { tasks: this.tasksOf(batchId, q) };
    const limit = q.limit ?? 1000;
    const after = q.after ?? -1;
    const end = this.s.taskScanEnd.get(batchId, after, TASK_SCAN - 1)?.id;
    const rows = this.s.taskPageOfState.all(batchId, after, end ?? Number.MAX_SAFE_INTEGER, q.state, limit);
    const tasks = rows.map(toTask);
    return tasks.length >= limit || end === undefined ? { tasks } : { tasks, next: end };
  }

  tasksInState(batchId: number, state: TaskState): Task[] {
    return this.s.tasksInState.all(batchId, state).map(toTask);
  }

  tasksOfDevice(device: DeviceRef): Task[] {
    return this.s.tasksOfDevice.all(device.productKey, device.deviceName).map(toTask);
  }

  saveStep(taskId: number, step: number | null, at: number): void {
    this.s.saveStep.run(step, at, taskId);
  }

  saveTask(t: Task, tr?: Transition): void {
    this.s.saveTask.run(taskUpdateValues(t));
    if (tr) this.s.insertTransition.run(transitionValues(tr));
  }

  saveUniformChange(change: UniformTaskChange): void {
    const { taskIds, from, to, attemptsAdded, dueAt, at } = change;
    const ids = JSON.stringify(taskIds);
    // All or none, also outside a transaction (inside one, a savepoint).
    this.transaction(() => {
      const { changes } = this.s.saveUniform.run(to, attemptsAdded, dueAt, at, ids, from);
      if (changes !== taskIds.length) throw notAsExpected(change, changes);
      this.s.insertUniformTransitions.run(from, to, at, ids);
    });
  }

  countsByBatch(batchId?: number): Map<number, Record<TaskState, number>> {
    const map = new Map<number, Record<TaskState, number>>();
    const rows = batchId === undefined ? this.s.countsAll.all() : this.s.countsOne.all(batchId);
    for (const r of rows) {
      let counts = map.get(r.batch_id);
      if (!counts) map.set(r.batch_id, (counts = emptyCounts()));
      counts[r.state] = r.n;
    }
    return map;
  }

  dueTasks(batchId: number, state: TaskState, now: number, limit: number): Task[] {
    return this.s.dueTasks.all(batchId, state, now, limit).map(toTask);
  }

  tasksUnchangedSince(batchId: number, state: TaskState, before: number, afterId: number, limit: number): Task[] {
    return this.s.tasksUnchangedSince.all(batchId, state, afterId, before, limit).map(toTask);
  }

  /** The durability level the connection runs at, as SQLite reports it. */
  get synchronous(): string {
    return ['OFF', 'NORMAL', 'FULL', 'EXTRA'][this.db.pragma('synchronous', { simple: true }) as number] ?? 'unknown';
  }

  nextDue(batchId: number, state: TaskState): number | undefined {
    return this.s.nextDue.get(batchId, state)?.t ?? undefined;
  }

  openWave(batchId: number, wave: number, at: number): number {
    return this.s.openWave.run(at, batchId, wave).changes;
  }

  waveCounts(batchId: number, wave: number): Record<TaskState, number> {
    const counts = emptyCounts();
    for (const r of this.s.waveCounts.all(batchId, wave)) counts[r.state] = r.n;
    return counts;
  }

  transitions(q: { taskId?: number; batchId?: number; limit?: number }): Transition[] {
    const limit = q.limit ?? 1000;
    const rows =
      q.taskId !== undefined
        ? this.s.transitionsOfTask.all(q.taskId, limit)
        : q.batchId !== undefined
          ? this.s.transitionsOfBatch.all(q.batchId, limit)
          : this.s.transitionsAll.all(limit);
    return rows.map(toTransition);
  }

  // ---- a batch created a slice at a time (batch-creation.ts) ---------------------------------

  private creation?: ReturnType<SqliteStore['prepareCreation']>;

  private prepareCreation() {
    const db = this.db;
    // The newest active task of the device's module, any batch: the overwrite policy's input.
    const active = `(SELECT t.id FROM tasks t WHERE t.product_key = d.product_key AND t.device_name = d.device_name
      AND t.module = d.module AND t.state IN ${ACTIVE} ORDER BY t.id DESC LIMIT 1)`;
    return {
      all: db.prepare<[string, string, string, number], CandidateRow>(
        `SELECT d.device_name, d.version, ${active} AS active_id FROM devices d
         WHERE d.product_key = ? AND d.module = ? AND d.device_name > ? ORDER BY d.device_name LIMIT ?`,
      ),
      tagged: db.prepare<[string, string, string, string, number], CandidateRow>(
        `SELECT d.device_name, d.version, ${active} AS active_id FROM device_tags g JOIN devices d
           ON d.product_key = g.product_key AND d.device_name = g.device_name AND d.module = ?
         WHERE g.product_key = ? AND g.tag = ? AND g.device_name > ? ORDER BY g.device_name LIMIT ?`,
      ),
      listed: db.prepare<[string, string, string, string, string], CandidateRow>(
        `SELECT l.value AS device_name, d.version AS version,
           (SELECT t.id FROM tasks t WHERE t.product_key = ? AND t.device_name = l.value AND t.module = ?
             AND t.state IN ${ACTIVE} ORDER BY t.id DESC LIMIT 1) AS active_id
         FROM json_each(?) l LEFT JOIN devices d ON d.product_key = ? AND d.module = ? AND d.device_name = l.value`,
      ),
      deleteTasks: db.prepare('DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE batch_id = ? LIMIT ?)'),
      deleteBatch: db.prepare('DELETE FROM batches WHERE id = ?'),
      deleteCounts: db.prepare('DELETE FROM batch_counts WHERE batch_id = ?'),
    };
  }

  private get c() {
    return (this.creation ??= this.prepareCreation());
  }

  candidatePage(q: CandidateQuery, after: string | null, limit: number): CandidatePage {
    let rows: CandidateRow[];
    let next: string | null = null;
    if (q.devices) {
      rows = this.c.listed.all(q.productKey, q.module, JSON.stringify(q.devices), q.productKey, q.module);
    } else {
      rows =
        q.tag !== undefined
          ? this.c.tagged.all(q.module, q.productKey, q.tag, after ?? '', limit)
          : this.c.all.all(q.productKey, q.module, after ?? '', limit);
      if (rows.length === limit) next = rows[rows.length - 1].device_name;
    }
    const src = q.srcVersions && q.srcVersions.length ? new Set(q.srcVersions) : undefined;
    const candidates: CandidatePage['candidates'] = [];
    for (const r of rows) {
      if (r.version === q.excludeVersion) continue;
      if (src && (r.version === null || !src.has(r.version))) continue;
      candidates.push({ deviceName: r.device_name, version: r.version, activeTaskId: r.active_id });
    }
    return { candidates, next };
  }

  deleteTasksOfBatch(batchId: number, limit: number): number {
    return this.c.deleteTasks.run(batchId, limit).changes;
  }

  /** Removes a batch whose tasks are already deleted, and its (zero) counters. */
  deleteBatch(batchId: number): void {
    this.c.deleteCounts.run(batchId);
    this.c.deleteBatch.run(batchId);
  }

  checkpoint(): void {
    if (this.checkpoints) this.checkpoints.checkpoint();
    else this.db.pragma('wal_checkpoint(PASSIVE)');
  }
}

interface CandidateRow {
  device_name: string;
  version: string | null;
  active_id: number | null;
}
