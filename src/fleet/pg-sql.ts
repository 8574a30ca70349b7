/**
 * The PostgreSQL store's statements (pg-operations.ts runs them): each named, so that a
 * connection prepares it once. Reads that a unit of work may follow with a write come in pairs,
 * the second locking the rows it reads (FOR UPDATE), for use inside a transaction.
 */
import { FIRMWARE_COLUMNS, TASK_COLUMNS } from './rows';
import { ACTIVE_TASK_STATES } from './states';

/** A statement: named ones are prepared once per connection. */
export interface Statement {
  name?: string;
  text: string;
  rowMode?: 'array';
  /** What an unnamed statement does, for error messages. */
  what?: string;
}

const ACTIVE = `(${ACTIVE_TASK_STATES.map((s) => `'${s}'`).join(', ')})`;
const OPEN_BATCHES = "('PLANNED', 'IN_PROGRESS', 'PAUSED')";
/** Devices a filtered page reads at most (devicePage), as in SqliteStore. */
export const DEVICE_SCAN = 50_000;
/** Tasks a page of one state reads at most (taskPage), as in SqliteStore. */
export const TASK_SCAN = 50_000;
/** Tasks per INSERT statement: 15 arrays of this length, one round trip. */
export const TASK_INSERT_ROWS = 5_000;

const named = (name: string, text: string, rowMode?: 'array'): Statement => ({ name: `ota_${name}`, text, rowMode });
const taskStatement = (name: string, where: string): [Statement, Statement] => [
  named(name, `SELECT ${TASK_COLUMNS} FROM tasks ${where}`, 'array'),
  named(`${name}_locked`, `SELECT ${TASK_COLUMNS} FROM tasks ${where} FOR UPDATE`, 'array'),
];

export const S = {
  getMeta: named('get_meta', 'SELECT value FROM meta WHERE key = $1'),
  // Inside a transaction a key is read under a lock of its own, taken before the read (a statement
  // of its own, so the read sees what the previous holder committed), whether or not the key exists
  // yet: a read-modify-write of a meta value loses no update. FOR UPDATE makes a plain write wait too.
  lockMeta: named('lock_meta', 'SELECT pg_advisory_xact_lock(1869898093, hashtext($1))'),
  getMetaLocked: named('get_meta_locked', 'SELECT value FROM meta WHERE key = $1 FOR UPDATE'),
  setMeta: named(
    'set_meta',
    'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  ),
  upsertDevice: named(
    'upsert_device',
    `INSERT INTO devices (product_key, device_name, module, version, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $5)
     ON CONFLICT (product_key, device_name, module) DO UPDATE SET version = excluded.version, last_seen = excluded.last_seen`,
  ),
  getVersion: named(
    'get_version',
    'SELECT version FROM devices WHERE product_key = $1 AND device_name = $2 AND module = $3',
  ),
  deviceModules: named(
    'device_modules',
    'SELECT * FROM devices WHERE product_key = $1 AND device_name = $2 ORDER BY module',
  ),
  // The counters' shards added up (pg-schema.ts); a key whose shards add up to 0 counts no device.
  versionCountsAll: named(
    'version_counts_all',
    `SELECT product_key, module, version, SUM(count)::bigint AS count FROM version_counts
     GROUP BY product_key, module, version HAVING SUM(count) > 0 ORDER BY product_key, module, count DESC, version`,
  ),
  versionCountsOf: named(
    'version_counts_of',
    `SELECT product_key, module, version, SUM(count)::bigint AS count FROM version_counts WHERE product_key = $1
     GROUP BY product_key, module, version HAVING SUM(count) > 0 ORDER BY module, count DESC, version`,
  ),
  deleteTags: named('delete_tags', 'DELETE FROM device_tags WHERE product_key = $1 AND device_name = $2'),
  insertTags: named(
    'insert_tags',
    `INSERT INTO device_tags (product_key, device_name, tag) SELECT $1, $2, t FROM unnest($3::text[]) AS t
     ON CONFLICT DO NOTHING`,
  ),
  tagsOf: named('tags_of', 'SELECT tag FROM device_tags WHERE product_key = $1 AND device_name = $2 ORDER BY tag'),
  hasTag: named('has_tag', 'SELECT 1 AS one FROM device_tags WHERE product_key = $1 AND tag = $2 AND device_name = $3'),
  putCredentials: named(
    'put_credentials',
    `INSERT INTO credentials (product_key, device_name, device_secret, created_at)
     SELECT p, d, s, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS c(p, d, s)
     ON CONFLICT (product_key, device_name) DO UPDATE SET device_secret = excluded.device_secret, created_at = excluded.created_at`,
  ),
  deleteCredential: named('delete_credential', 'DELETE FROM credentials WHERE product_key = $1 AND device_name = $2'),
  deviceSecret: named(
    'device_secret',
    'SELECT device_secret FROM credentials WHERE product_key = $1 AND device_name = $2',
  ),
  credentialsAll: named(
    'credentials_all',
    'SELECT product_key, device_name, created_at FROM credentials ORDER BY product_key, device_name LIMIT $1 OFFSET $2',
  ),
  credentialsOf: named(
    'credentials_of',
    'SELECT product_key, device_name, created_at FROM credentials WHERE product_key = $1 ORDER BY device_name LIMIT $2 OFFSET $3',
  ),
  insertFirmware: named(
    'insert_firmware',
    `INSERT INTO firmware (${FIRMWARE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
  ),
  nextSequence: named(
    'next_sequence',
    `INSERT INTO release_sequences AS r (product_key, module, last) VALUES ($1, $2, 1)
     ON CONFLICT (product_key, module) DO UPDATE SET last = r.last + 1 RETURNING last`,
  ),
  verifiedBySha256: named(
    'verified_by_sha256',
    `SELECT ${FIRMWARE_COLUMNS} FROM firmware WHERE product_key = $1 AND sha256 = $2
     AND verification IN ('verified', 'not-required') ORDER BY created_at, added LIMIT 1`,
  ),
  verifiedByMd5: named(
    'verified_by_md5',
    `SELECT ${FIRMWARE_COLUMNS} FROM firmware WHERE product_key = $1 AND md5 = $2
     AND verification IN ('verified', 'not-required') ORDER BY created_at, added LIMIT 1`,
  ),
  firmware: named('firmware', `SELECT ${FIRMWARE_COLUMNS} FROM firmware WHERE id = $1`),
  firmwareByVersion: named(
    'firmware_by_version',
    `SELECT ${FIRMWARE_COLUMNS} FROM firmware WHERE product_key = $1 AND module = $2 AND version = $3`,
  ),
  firmwareByStream: named('firmware_by_stream', `SELECT ${FIRMWARE_COLUMNS} FROM firmware WHERE stream_id = $1`),
  allFirmware: named('all_firmware', `SELECT ${FIRMWARE_COLUMNS} FROM firmware ORDER BY created_at, added`),
  productFirmware: named(
    'product_firmware',
    `SELECT ${FIRMWARE_COLUMNS} FROM firmware WHERE product_key = $1 ORDER BY created_at, added`,
  ),
  setVerification: named('set_verification', 'UPDATE firmware SET verification = $1 WHERE id = $2'),
  setFirmwareUrl: named('set_firmware_url', 'UPDATE firmware SET url = $1 WHERE id = $2'),
  deleteFirmware: named('delete_firmware', 'DELETE FROM firmware WHERE id = $1'),
  // One counter row, so two instances never hand out the same stream id; never below the highest stored one.
  nextStreamId: named(
    'next_stream_id',
    `UPDATE stream_ids SET last = GREATEST(last + 1, (SELECT COALESCE(MAX(stream_id), 1000) + 1 FROM firmware))
     RETURNING last`,
  ),
  filesUsed: named('files_used', 'SELECT COUNT(*) AS n FROM firmware WHERE sha256 = $1 AND hosted'),
  insertBatch: named(
    'insert_batch',
    `INSERT INTO batches (firmware_id, type, state, targets, strategy, reason, wave, direct, unverified, egress, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
  ),
  batch: named('batch', 'SELECT * FROM batches WHERE id = $1'),
  batchLocked: named('batch_locked', 'SELECT * FROM batches WHERE id = $1 FOR UPDATE'),
  allBatches: named('all_batches', 'SELECT * FROM batches ORDER BY id'),
  openBatches: named('open_batches', `SELECT * FROM batches WHERE state IN ${OPEN_BATCHES} ORDER BY id`),
  updateBatch: named(
    'update_batch',
    'UPDATE batches SET state = $1, reason = $2, wave = $3, egress = $4, updated_at = $5 WHERE id = $6',
  ),
  batchesUsing: named('batches_using', 'SELECT COUNT(*) AS n FROM batches WHERE firmware_id = $1'),
  openBatchesUsing: named(
    'open_batches_using',
    `SELECT COUNT(*) AS n FROM batches WHERE firmware_id = $1 AND state IN ${OPEN_BATCHES}`,
  ),
  insertTasks: named(
    'insert_tasks',
    `INSERT INTO tasks (batch_id, product_key, device_name, module, src_version, state, reason, step, attempts,
       retries, wave, due_at, started_at, created_at, updated_at)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
       $8::int[], $9::int[], $10::int[], $11::int[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])`,
  ),
  deleteTasks: named(
    'delete_tasks',
    'DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE batch_id = $1 LIMIT $2)',
  ),
  deleteCounts: named('delete_counts', 'DELETE FROM batch_counts WHERE batch_id = $1'),
  deleteBatch: named('delete_batch', 'DELETE FROM batches WHERE id = $1'),
  task: taskStatement('task', 'WHERE id = $1'),
  taskOf: taskStatement('task_of', 'WHERE batch_id = $1 AND product_key = $2 AND device_name = $3 AND module = $4'),
  taskOfAnyModule: taskStatement(
    'task_of_any_module',
    'WHERE batch_id = $1 AND product_key = $2 AND device_name = $3 ORDER BY id LIMIT 1',
  ),
  activeTask: taskStatement(
    'active_task',
    `WHERE product_key = $1 AND device_name = $2 AND module = $3 AND state IN ${ACTIVE} ORDER BY id DESC LIMIT 1`,
  ),
  activeTasks: taskStatement(
    'active_tasks',
    `WHERE product_key = $1 AND device_name = $2 AND state IN ${ACTIVE} ORDER BY id`,
  ),
  // Later tasks of one device replace earlier ones in the map, as SQLite's index order makes them.
  activeTasksOf: named(
    'active_tasks_of',
    `SELECT ${TASK_COLUMNS} FROM tasks WHERE product_key = $1 AND module = $2 AND state IN ${ACTIVE} ORDER BY device_name, id`,
    'array',
  ),
  tasksOfAll: named(
    'tasks_of_all',
    `SELECT ${TASK_COLUMNS} FROM tasks WHERE batch_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4`,
    'array',
  ),
  tasksOfState: named(
    'tasks_of_state',
    `SELECT ${TASK_COLUMNS} FROM tasks WHERE batch_id = $1 AND state = $2 AND id > $3 ORDER BY id LIMIT $4 OFFSET $5`,
    'array',
  ),
  taskScanEnd: named(
    'task_scan_end',
    'SELECT id FROM tasks WHERE batch_id = $1 AND id > $2 ORDER BY id LIMIT 1 OFFSET $3',
  ),
  // The matches among the TASK_SCAN tasks after the cursor: the scan stops at `limit` matches.
  taskPageOfState: named(
    'task_page_of_state',
    `SELECT ${TASK_COLUMNS} FROM (SELECT ${TASK_COLUMNS} FROM tasks WHERE batch_id = $1 AND id > $2 ORDER BY id LIMIT $3) s
     WHERE state = $4 ORDER BY id LIMIT $5`,
    'array',
  ),
  // SQLite reads them in its index's order (deadline, NULL first, then id).
  tasksInState: named(
    'tasks_in_state',
    `SELECT ${TASK_COLUMNS} FROM tasks WHERE batch_id = $1 AND state = $2 ORDER BY due_at NULLS FIRST, id`,
    'array',
  ),
  tasksOfDevice: named(
    'tasks_of_device',
    `SELECT ${TASK_COLUMNS} FROM tasks WHERE product_key = $1 AND device_name = $2 ORDER BY id`,
    'array',
  ),
  saveStep: named('save_step', 'UPDATE tasks SET step = $1, updated_at = $2 WHERE id = $3'),
  saveTask: named(
    'save_task',
    `UPDATE tasks SET state = $1, reason = $2, step = $3, attempts = $4, retries = $5, wave = $6, due_at = $7,
       started_at = $8, src_version = $9, updated_at = $10 WHERE id = $11`,
  ),
  countInState: named(
    'count_in_state',
    'SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1::bigint[]) AND state = $2',
  ),
  // A uniform change (uniform-change.ts) in one statement, all of it or none: the rows are locked
  // and read as last committed (FOR UPDATE), and written only when every one of them is in the
  // change's state; then their transitions in the array's order, each with the row's reason,
  // step and new attempts. It answers one row per transition written.
  saveUniform: named(
    'save_uniform',
    `WITH locked AS (SELECT id, state FROM tasks WHERE id = ANY($5::bigint[]) FOR UPDATE),
     saved AS (UPDATE tasks SET state = $1, attempts = attempts + $2, due_at = $3, updated_at = $4
       WHERE id IN (SELECT id FROM locked) AND state = $6
         AND (SELECT count(*) FROM locked WHERE state = $6) = cardinality($5::bigint[])
       RETURNING id, batch_id, reason, step, attempts)
     INSERT INTO transitions (task_id, batch_id, from_state, to_state, reason, step, attempts, at)
     SELECT s.id, s.batch_id, $6, $1, s.reason, s.step, s.attempts, $4
     FROM unnest($5::bigint[]) WITH ORDINALITY AS j (id, n) JOIN saved AS s ON s.id = j.id ORDER BY j.n`,
  ),
  // The task and its transition in one statement: one round trip, atomic without a transaction.
  saveTaskWithTransition: named(
    'save_task_transition',
    `WITH saved AS (UPDATE tasks SET state = $1, reason = $2, step = $3, attempts = $4, retries = $5, wave = $6,
       due_at = $7, started_at = $8, src_version = $9, updated_at = $10 WHERE id = $11)
     INSERT INTO transitions (task_id, batch_id, from_state, to_state, reason, step, attempts, at)
     VALUES ($12, $13, $14, $15, $16, $17, $18, $19)`,
  ),
  countsAll: named(
    'counts_all',
    `SELECT batch_id, state, SUM(count)::bigint AS n FROM batch_counts
     GROUP BY batch_id, state HAVING SUM(count) > 0 ORDER BY batch_id, state`,
  ),
  countsOne: named(
    'counts_one',
    `SELECT batch_id, state, SUM(count)::bigint AS n FROM batch_counts WHERE batch_id = $1
     GROUP BY batch_id, state HAVING SUM(count) > 0 ORDER BY state`,
  ),
  dueTasks: taskStatement(
    'due_tasks',
    'WHERE batch_id = $1 AND state = $2 AND due_at IS NOT NULL AND due_at <= $3 ORDER BY due_at, id LIMIT $4',
  ),
  tasksUnchangedSince: named(
    'tasks_unchanged_since',
    `SELECT ${TASK_COLUMNS} FROM tasks WHERE batch_id = $1 AND state = $2 AND id > $3 AND updated_at < $4 ORDER BY id LIMIT $5`,
    'array',
  ),
  nextDue: named(
    'next_due',
    'SELECT MIN(due_at) AS t FROM tasks WHERE batch_id = $1 AND state = $2 AND due_at IS NOT NULL',
  ),
  openWave: named(
    'open_wave',
    "UPDATE tasks SET due_at = $1 WHERE batch_id = $2 AND wave = $3 AND state = 'QUEUED' AND due_at IS NULL",
  ),
  waveCounts: named(
    'wave_counts',
    'SELECT state, COUNT(*) AS n FROM tasks WHERE batch_id = $1 AND wave = $2 GROUP BY state',
  ),
  transitionsOfTask: named(
    'transitions_of_task',
    `SELECT tr.*, t.product_key, t.device_name, t.module FROM transitions tr JOIN tasks t ON t.id = tr.task_id
     WHERE tr.task_id = $1 ORDER BY tr.id LIMIT $2`,
  ),
  transitionsOfBatch: named(
    'transitions_of_batch',
    `SELECT tr.*, t.product_key, t.device_name, t.module FROM transitions tr JOIN tasks t ON t.id = tr.task_id
     WHERE tr.batch_id = $1 ORDER BY tr.id LIMIT $2`,
  ),
  transitionsAll: named(
    'transitions_all',
    `SELECT tr.*, t.product_key, t.device_name, t.module FROM transitions tr JOIN tasks t ON t.id = tr.task_id
     ORDER BY tr.id LIMIT $1`,
  ),
};

// The newest active task of the device's module, any batch: the overwrite policy's input.
const ACTIVE_OF = (device: string, module: string) =>
  `(SELECT t.id FROM tasks t WHERE t.product_key = $1 AND t.device_name = ${device} AND t.module = ${module}
    AND t.state IN ${ACTIVE} ORDER BY t.id DESC LIMIT 1)`;

export const C = {
  all: named(
    'candidates_page_all',
    `SELECT d.device_name, d.version, ${ACTIVE_OF('d.device_name', 'd.module')} AS active_id FROM devices d
     WHERE d.product_key = $1 AND d.module = $2 AND d.device_name > $3 ORDER BY d.device_name LIMIT $4`,
  ),
  tagged: named(
    'candidates_page_tagged',
    `SELECT d.device_name, d.version, ${ACTIVE_OF('d.device_name', 'd.module')} AS active_id FROM device_tags g
     JOIN devices d ON d.product_key = g.product_key AND d.device_name = g.device_name AND d.module = $2
     WHERE g.product_key = $1 AND g.tag = $3 AND g.device_name > $4 ORDER BY g.device_name LIMIT $5`,
  ),
  listed: named(
    'candidates_page_listed',
    `SELECT l.name AS device_name, d.version, ${ACTIVE_OF('l.name', '$2')} AS active_id
     FROM unnest($3::text[]) WITH ORDINALITY AS l(name, n)
     LEFT JOIN devices d ON d.product_key = $1 AND d.module = $2 AND d.device_name = l.name ORDER BY l.n`,
  ),
  plainListed: named(
    'candidates_listed',
    `SELECT l.name AS device_name, d.version FROM unnest($3::text[]) WITH ORDINALITY AS l(name, n)
     LEFT JOIN devices d ON d.product_key = $1 AND d.module = $2 AND d.device_name = l.name ORDER BY l.n`,
  ),
  plainTagged: named(
    'candidates_tagged',
    `SELECT d.device_name, d.version FROM devices d JOIN device_tags g
       ON g.product_key = d.product_key AND g.device_name = d.device_name AND g.tag = $3
     WHERE d.product_key = $1 AND d.module = $2 ORDER BY d.device_name`,
  ),
  plainAll: named(
    'candidates_all',
    'SELECT d.device_name, d.version FROM devices d WHERE d.product_key = $1 AND d.module = $2 ORDER BY d.device_name',
  ),
};
