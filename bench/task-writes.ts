/**
 * Not one of the six benchmarks: what schema 6's task counters and indexes cost each task write,
 * on the store alone (SqliteStore, no Fleet, no Node-RED). One variant per schema layout, each on
 * a fresh file built to that layout with raw SQL from today's migrations; rounds interleave the
 * variants in one process and the medians are compared with schema 5 (no counters, no task page
 * index). Three writes, each over `--tasks` tasks (100,000) of one batch:
 *   insert — insertTasks, 10,000 tasks per transaction (the triggers count every row);
 *   T3     — a state change QUEUED → IN_PROGRESS with its transition row, 64 per transaction;
 *   T1     — a success: the device's new version (recordVersion) and IN_PROGRESS → SUCCEEDED
 *            with its transition row, 64 per transaction.
 * A "fleet" variant has no triggers: the store writes the counters once per transaction from the
 * deltas of its writes (what the fleet's unit of work would do), the bound a design without
 * triggers could reach.
 *   node build/bench/task-writes.js [--tasks=100000] [--rounds=7]
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/fleet';
import type { NewTask, Task, TaskState } from '../src/fleet';
import { BenchOptions, BenchResult, info, log, main, Row, sig } from './lib/report';
import { median, now } from './lib/stats';

const NAME = 'task-writes';
const GROUP = 64;
const INSERT_GROUP = 10_000;
const DEVICE = (i: number): string => `d-${String(i).padStart(7, '0')}`;

/** Back to schema 5's layout: none of migration 6's objects. */
const SCHEMA_5 = `DROP TRIGGER IF EXISTS batch_counts_insert; DROP TRIGGER IF EXISTS batch_counts_delete;
  DROP TRIGGER IF EXISTS batch_counts_update; DROP INDEX IF EXISTS tasks_by_batch_state_id;
  DROP INDEX IF EXISTS tasks_by_batch; DROP TABLE IF EXISTS batch_counts;`;
const COUNTS = `CREATE INDEX tasks_by_batch ON tasks (batch_id);
  CREATE TABLE batch_counts (batch_id INTEGER NOT NULL, state TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (batch_id, state)) WITHOUT ROWID;`;
const INSERT_TRIGGER = `CREATE TRIGGER batch_counts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO batch_counts (batch_id, state, count) VALUES (new.batch_id, new.state, 1)
      ON CONFLICT (batch_id, state) DO UPDATE SET count = count + 1;
  END;
  CREATE TRIGGER batch_counts_delete AFTER DELETE ON tasks BEGIN
    UPDATE batch_counts SET count = count - 1 WHERE batch_id = old.batch_id AND state = old.state;
  END;`;
/** The update trigger as first written: an UPDATE of the old counter, an UPSERT of the new one. */
const UPDATE_TWO = `CREATE TRIGGER batch_counts_update AFTER UPDATE OF batch_id, state ON tasks
  WHEN old.state IS NOT new.state OR old.batch_id IS NOT new.batch_id BEGIN
    UPDATE batch_counts SET count = count - 1 WHERE batch_id = old.batch_id AND state = old.state;
    INSERT INTO batch_counts (batch_id, state, count) VALUES (new.batch_id, new.state, 1)
      ON CONFLICT (batch_id, state) DO UPDATE SET count = count + 1;
  END;`;
/** One UPSERT of two rows: -1 on the old counter, +1 on the new. */
const UPDATE_ONE = `CREATE TRIGGER batch_counts_update AFTER UPDATE OF batch_id, state ON tasks
  WHEN old.state IS NOT new.state OR old.batch_id IS NOT new.batch_id BEGIN
    INSERT INTO batch_counts (batch_id, state, count) VALUES (old.batch_id, old.state, -1), (new.batch_id, new.state, 1)
      ON CONFLICT (batch_id, state) DO UPDATE SET count = count + excluded.count;
  END;`;
/** Two triggers: a state change within the batch (all the store writes) checks one column. */
const UPDATE_STATE_ONLY = `CREATE TRIGGER batch_counts_update AFTER UPDATE OF state ON tasks
  WHEN old.state IS NOT new.state BEGIN
    INSERT INTO batch_counts (batch_id, state, count) VALUES (old.batch_id, old.state, -1), (new.batch_id, new.state, 1)
      ON CONFLICT (batch_id, state) DO UPDATE SET count = count + excluded.count;
  END;
  CREATE TRIGGER batch_counts_move AFTER UPDATE OF batch_id ON tasks
  WHEN old.batch_id IS NOT new.batch_id BEGIN
    INSERT INTO batch_counts (batch_id, state, count) VALUES (old.batch_id, old.state, -1), (new.batch_id, new.state, 1)
      ON CONFLICT (batch_id, state) DO UPDATE SET count = count + excluded.count;
  END;`;

interface Variant {
  name: string;
  sql: string;
  /** The counters written by the store per transaction, not by triggers. */
  byStore?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'schema 5', sql: '' },
  {
    name: '6 as first written (state index, UPDATE + UPSERT)',
    sql: `${COUNTS} CREATE INDEX tasks_by_batch_state_id ON tasks (batch_id, state, id); ${INSERT_TRIGGER} ${UPDATE_TWO}`,
  },
  { name: '6 without the state index (UPDATE + UPSERT)', sql: `${COUNTS} ${INSERT_TRIGGER} ${UPDATE_TWO}` },
  { name: '6 without the state index, one UPSERT', sql: `${COUNTS} ${INSERT_TRIGGER} ${UPDATE_ONE}` },
  { name: '6 without the state index, UPSERT on state only', sql: `${COUNTS} ${INSERT_TRIGGER} ${UPDATE_STATE_ONLY}` },
  { name: 'tasks_by_batch, counters by the store per transaction', sql: COUNTS, byStore: true },
];

type Phase = 'insert' | 'T3' | 'T1';
const PHASES: Phase[] = ['insert', 'T3', 'T1'];

function newTask(i: number, at: number): NewTask {
  return {
    batchId: 1,
    productKey: 'pk',
    deviceName: DEVICE(i),
    module: 'default',
    srcVersion: '1.0.0',
    state: 'QUEUED',
    reason: null,
    step: null,
    attempts: 1,
    retries: 0,
    wave: 0,
    dueAt: null,
    startedAt: null,
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * A store at the variant's layout: opened at schema 6, then changed under it on its own connection
 * (the statements the writes use are prepared again; the task pages, not used here, could not be).
 */
function storeOf(dir: string, variant: Variant, round: number): SqliteStore {
  const store = new SqliteStore(join(dir, `r${round}-${VARIANTS.indexOf(variant)}.db`));
  rawDb(store).exec(SCHEMA_5 + variant.sql);
  return store;
}

const rawDb = (store: SqliteStore): Database.Database => (store as unknown as { db: Database.Database }).db;

/** Runs the three writes on one store; returns µs per task for each. */
function runWrites(store: SqliteStore, variant: Variant, n: number): Record<Phase, number> {
  const upsert =
    variant.byStore &&
    rawDb(store).prepare(
      'INSERT INTO batch_counts (batch_id, state, count) VALUES (?, ?, ?) ON CONFLICT (batch_id, state) DO UPDATE SET count = count + excluded.count',
    );
  const flush = (deltas: Map<TaskState, number>) => {
    if (!upsert) return;
    for (const [state, d] of deltas) if (d !== 0) upsert.run(1, state, d);
    deltas.clear();
  };
  const deltas = new Map<TaskState, number>();
  const count = (state: TaskState, d: number) => deltas.set(state, (deltas.get(state) ?? 0) + d);
  const out = {} as Record<Phase, number>;

  for (let i = 0; i < n; i++) store.recordVersion({ productKey: 'pk', deviceName: DEVICE(i) }, 'default', '1.0.0', 1);
  let t = now();
  for (let i = 0; i < n; i += INSERT_GROUP) {
    store.transaction(() => {
      const rows = [];
      for (let j = i; j < Math.min(n, i + INSERT_GROUP); j++) rows.push(newTask(j, 2));
      store.insertTasks(rows);
      count('QUEUED', rows.length);
      flush(deltas);
    });
  }
  out.insert = ((now() - t) * 1000) / n;

  const tasks: Task[] = Array.from({ length: n }, (_, i) => ({ ...newTask(i, 2), id: i + 1 }));
  const change = (from: TaskState, to: TaskState, at: number, i: number) => {
    const task = tasks[i];
    task.state = to;
    task.step = to === 'IN_PROGRESS' ? 10 : 100;
    task.updatedAt = at;
    store.saveTask(task, {
      taskId: task.id,
      batchId: 1,
      productKey: 'pk',
      deviceName: task.deviceName,
      module: 'default',
      from,
      to,
      reason: null,
      step: task.step,
      attempts: 1,
      at,
    });
    count(from, -1);
    count(to, 1);
  };
  t = now();
  for (let i = 0; i < n; i += GROUP) {
    store.transaction(() => {
      for (let j = i; j < Math.min(n, i + GROUP); j++) change('QUEUED', 'IN_PROGRESS', 3, j);
      flush(deltas);
    });
  }
  out.T3 = ((now() - t) * 1000) / n;

  t = now();
  for (let i = 0; i < n; i += GROUP) {
    store.transaction(() => {
      for (let j = i; j < Math.min(n, i + GROUP); j++) {
        store.recordVersion({ productKey: 'pk', deviceName: DEVICE(j) }, 'default', '2.0.0', 4);
        change('IN_PROGRESS', 'SUCCEEDED', 4, j);
      }
      flush(deltas);
    });
  }
  out.T1 = ((now() - t) * 1000) / n;
  return out;
}

/** The counters the variant ended with: every task SUCCEEDED, none elsewhere (exactness check). */
function checkCounts(store: SqliteStore, variant: Variant, n: number): void {
  if (variant.sql === '') return;
  const counts = store.countsByBatch(1).get(1);
  if (counts?.SUCCEEDED !== n || Object.values(counts).reduce((a, b) => a + b, 0) !== n)
    throw new Error(`${variant.name}: counters ${JSON.stringify(counts)} for ${n} tasks`);
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const argOf = (name: string, fallback: number) =>
    Number(options.args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
  const n = argOf('tasks', options.quick ? 20_000 : 100_000);
  const rounds = argOf('rounds', options.quick ? 3 : 7);
  const dir = mkdtempSync(join(tmpdir(), 'task-writes-'));
  const samples = VARIANTS.map(() => ({ insert: [], T3: [], T1: [] }) as Record<Phase, number[]>);
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [v, variant] of VARIANTS.entries()) {
        const store = storeOf(dir, variant, round);
        try {
          const us = runWrites(store, variant, n);
          checkCounts(store, variant, n);
          for (const p of PHASES) samples[v][p].push(us[p]);
          log(
            NAME,
            `round ${round + 1}/${rounds} ${variant.name}: ${PHASES.map((p) => `${p} ${sig(us[p])} µs`).join(', ')}`,
          );
        } finally {
          store.close();
          for (const f of readdirSync(dir)) rmSync(join(dir, f));
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = Object.fromEntries(PHASES.map((p) => [p, median(samples[0][p])])) as Record<Phase, number>;
  const rows: Row[] = [];
  for (const [v, variant] of VARIANTS.entries()) {
    for (const p of PHASES) {
      const m = median(samples[v][p]);
      rows.push(
        info(
          NAME,
          `${p}: ${variant.name}`,
          `${sig(m)} µs/task`,
          `${sig(base[p])} µs/task`,
          `×${(m / base[p]).toFixed(2)}`,
        ),
      );
    }
  }
  log(
    NAME,
    `load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  return {
    name: NAME,
    rows,
    details: { tasks: n, rounds, samples: Object.fromEntries(VARIANTS.map((v, i) => [v.name, samples[i]])) },
    notes: [`${n} tasks, ${rounds} rounds interleaved, medians; baseline: schema 5.`],
  };
}

main(run);
