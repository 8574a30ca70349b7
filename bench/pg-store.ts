/**
 * The PostgreSQL store against the SQLite store, operation by operation, through the same
 * promise-answering face (`AsyncFleetStore`: PgStore, and SqliteStore behind `promisedStore`), in
 * one process, rounds alternating the two. PostgreSQL is a durable cluster of its own
 * (`Postgres.start({ durable: true })`: fsync on, every commit on disk before it returns) on
 * 127.0.0.1, a fresh database per round; SQLite is a fresh file in a temp dir with the store's
 * defaults (WAL, synchronous=NORMAL: a commit survives a crash of the process, not of the machine).
 * Each operation runs one at a time (latency, not throughput), outside a transaction (its own
 * commit) unless named:
 *   insertTasks      — 100,000 tasks of one batch in one transaction (ms);
 *   recordVersion    — a device's new version (the counters move), one commit each;
 *   saveTask         — QUEUED → NOTIFIED with its transition row, one commit each;
 *   T1 unit of work  — a transaction: activeTask, recordVersion, saveTask SUCCEEDED with its transition;
 *   T1, 8 at once    — the same on other tasks, eight transactions in flight (SQLite runs them in turn);
 *                      on PostgreSQL once more with the counters in one row per key (no shards),
 *                      against the sharded figure;
 *   taskPage         — pages of 1,000 QUEUED tasks by cursor through the batch;
 *   versionDistribution — the counters of every product, module and version.
 * Ratios are PostgreSQL over SQLite (above 1: PostgreSQL is slower), medians over the rounds.
 *   node build/bench/pg-store.js [--quick] [--ops=2000] [--tasks=100000] [--rounds=3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisedStore } from '../src/fleet/async-store';
import { PgStore } from '../src/fleet/pg-store';
import { SqliteStore } from '../src/fleet/sqlite-store';
import type { AsyncFleetStore, NewTask } from '../src/fleet/store';
import type { TaskState } from '../src/fleet/states';
import type { Task } from '../src/fleet/types';
import { Postgres } from '../test/helpers/postgres';
import { BenchOptions, BenchResult, info, log, main, num, Row, sig } from './lib/report';
import { median, now } from './lib/stats';

const NAME = 'pg-store';
const PK = 'pk';
const MODULE = 'default';
const PAGE = 1_000;
const DEVICE = (i: number): string => `d-${String(i).padStart(7, '0')}`;

type Op =
  'insertTasks' | 'recordVersion' | 'saveTask' | 'T1' | 'T1x8' | 'T1x8oneRow' | 'taskPage' | 'versionDistribution';
/** T1 units of work in flight at once (T1x8): what a pool of connections gains from commits that overlap. */
const AT_ONCE = 8;
const OPS: { op: Op; metric: string; unit: string }[] = [
  { op: 'insertTasks', metric: 'insertTasks, TASKS tasks in one transaction', unit: 'ms' },
  { op: 'recordVersion', metric: 'recordVersion, a new version (own commit)', unit: 'µs/op' },
  { op: 'saveTask', metric: 'saveTask with its transition (own commit)', unit: 'µs/op' },
  { op: 'T1', metric: 'a T1 unit of work in a transaction', unit: 'µs/op' },
  { op: 'T1x8', metric: `T1 units of work, ${AT_ONCE} at once (time per unit)`, unit: 'µs/op' },
  { op: 'taskPage', metric: 'taskPage of one state, 1,000 tasks by cursor', unit: 'µs/page' },
  { op: 'versionDistribution', metric: 'versionDistribution, every product', unit: 'µs/op' },
];

function newTask(batchId: number, i: number): NewTask {
  return {
    batchId,
    productKey: PK,
    deviceName: DEVICE(i),
    module: MODULE,
    srcVersion: '1.0.0',
    state: 'QUEUED',
    reason: null,
    step: null,
    attempts: 1,
    retries: 0,
    wave: 0,
    dueAt: null,
    startedAt: null,
    createdAt: 1,
    updatedAt: 1,
  };
}

const transition = (t: Task, from: TaskState, at: number) => ({
  taskId: t.id,
  batchId: t.batchId,
  productKey: t.productKey,
  deviceName: t.deviceName,
  module: t.module,
  from,
  to: t.state,
  reason: null,
  step: t.step,
  attempts: t.attempts,
  at,
});

/**
 * Every operation on one fresh store; returns each one's figure (ms for insertTasks, µs otherwise).
 * `shards` (PostgreSQL only) turns the counters' shards off and on again: T1x8oneRow is T1x8 with
 * every session writing one counter row per key, as a design without shards would.
 */
async function measure(
  store: AsyncFleetStore,
  tasks: number,
  ops: number,
  shards?: (on: boolean) => void,
): Promise<Partial<Record<Op, number>>> {
  const out: Partial<Record<Op, number>> = {};
  const batchId = await store.insertBatch({
    firmwareId: 'fw',
    type: 'static',
    state: 'IN_PROGRESS',
    targets: { productKey: PK, module: MODULE } as never,
    strategy: {} as never,
    wave: 0,
    direct: false,
    allowUnverified: false,
    createdAt: 1,
    updatedAt: 1,
  });
  const rows = Array.from({ length: tasks }, (_, i) => newTask(batchId, i));
  let t = now();
  await store.transaction((tx) => tx.insertTasks(rows));
  out.insertTasks = now() - t;

  // The devices, then the figure: each one's next version (a count moves between two counters).
  for (let i = 0; i < 3 * ops; i++) {
    await store.recordVersion({ productKey: PK, deviceName: DEVICE(i) }, MODULE, '1.0.0', 1);
  }
  t = now();
  for (let i = 0; i < ops; i++)
    await store.recordVersion({ productKey: PK, deviceName: DEVICE(i) }, MODULE, '2.0.0', 2);
  out.recordVersion = ((now() - t) * 1000) / ops;

  const all = await store.tasksOf(batchId, { limit: 3 * ops });
  const mine = all.slice(0, ops);
  const more = all.slice(ops, 2 * ops);
  const last = all.slice(2 * ops);
  t = now();
  for (const task of mine) {
    const next = { ...task, state: 'NOTIFIED' as const, updatedAt: 3 };
    await store.saveTask(next, transition(next, 'QUEUED', 3));
  }
  out.saveTask = ((now() - t) * 1000) / ops;

  const t1 = (task: Task) =>
    store.transaction(async (tx) => {
      const active = (await tx.activeTask(task, MODULE)) as Task;
      await tx.recordVersion(task, MODULE, '3.0.0', 4);
      const done = { ...active, state: 'SUCCEEDED' as const, step: 100, updatedAt: 4 };
      await tx.saveTask(done, transition(done, active.state, 4));
    });
  t = now();
  for (const task of mine) await t1(task);
  out.T1 = ((now() - t) * 1000) / ops;

  t = now();
  for (let i = 0; i < more.length; i += AT_ONCE) await Promise.all(more.slice(i, i + AT_ONCE).map(t1));
  out.T1x8 = ((now() - t) * 1000) / more.length;

  if (shards) {
    shards(false);
    t = now();
    for (let i = 0; i < last.length; i += AT_ONCE) await Promise.all(last.slice(i, i + AT_ONCE).map(t1));
    out.T1x8oneRow = ((now() - t) * 1000) / last.length;
    shards(true);
  }

  let after: number | undefined;
  let pages = 0;
  t = now();
  for (;;) {
    const page = await store.taskPage(batchId, { state: 'QUEUED', limit: PAGE, after });
    pages++;
    const last = page.tasks.at(-1)?.id;
    after = page.next ?? last;
    if (page.next === undefined && page.tasks.length < PAGE) break;
  }
  out.taskPage = ((now() - t) * 1000) / pages;

  const reads = Math.max(50, Math.floor(ops / 4));
  t = now();
  for (let i = 0; i < reads; i++) await store.versionDistribution();
  out.versionDistribution = ((now() - t) * 1000) / reads;
  return out;
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const argOf = (name: string, fallback: number) =>
    Number(options.args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
  const tasks = argOf('tasks', options.quick ? 20_000 : 100_000);
  const ops = argOf('ops', options.quick ? 300 : 2_000);
  const rounds = argOf('rounds', options.quick ? 1 : 3);
  const server = await Postgres.start({ durable: true });
  if (!server) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/<version>/bin)');
  const dir = mkdtempSync(join(tmpdir(), 'pg-store-bench-'));
  const samples = { pg: [] as Partial<Record<Op, number>>[], sqlite: [] as Partial<Record<Op, number>>[] };
  try {
    for (let round = 0; round < rounds; round++) {
      // Alternate which store goes first, so neither always meets a warmer (or busier) machine.
      const order = round % 2 ? (['sqlite', 'pg'] as const) : (['pg', 'sqlite'] as const);
      for (const kind of order) {
        const database = `bench_${round}`;
        const store =
          kind === 'pg'
            ? await PgStore.open(server.createDatabase(database))
            : promisedStore(new SqliteStore(join(dir, `bench-${round}.sqlite`)));
        // The shard function of pg-schema.ts, or one row per key (every session writes shard 0).
        const shards = (on: boolean) =>
          server.psql(
            database,
            `CREATE OR REPLACE FUNCTION ota_counter_shard() RETURNS SMALLINT LANGUAGE sql STABLE AS $fn$ SELECT ${on ? '(pg_backend_pid() % 16)' : '0'}::SMALLINT $fn$`,
          );
        try {
          const figures = await measure(store, tasks, ops, kind === 'pg' ? shards : undefined);
          samples[kind].push(figures);
          log(
            NAME,
            `round ${round + 1}/${rounds} ${kind}: ${OPS.filter((o) => figures[o.op] !== undefined)
              .map((o) => `${o.op} ${sig(figures[o.op]!)}`)
              .join(', ')}`,
          );
        } finally {
          await store.close();
        }
      }
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  log(NAME, `load ${load}`);
  const figure = (kind: 'pg' | 'sqlite', op: Op) => median(samples[kind].map((s) => s[op] ?? NaN));
  const rows: Row[] = OPS.map(({ op, metric, unit }) => {
    const pg = figure('pg', op);
    const sqlite = figure('sqlite', op);
    return info(
      NAME,
      metric.replace('TASKS', num(tasks)),
      `${sig(pg)} ${unit}`,
      `${sig(sqlite)} ${unit}`,
      `×${(pg / sqlite).toFixed(2)}`,
    );
  });
  // Against the sharded figure of the same rounds: what one counter row per key would cost.
  const oneRow = figure('pg', 'T1x8oneRow');
  const sharded = figure('pg', 'T1x8');
  rows.push(
    info(
      NAME,
      `T1 units of work, ${AT_ONCE} at once, PostgreSQL with one counter row per key (baseline: shards)`,
      `${sig(oneRow)} µs/op`,
      `${sig(sharded)} µs/op`,
      `×${(oneRow / sharded).toFixed(2)}`,
    ),
  );
  return {
    name: NAME,
    rows,
    details: { tasks, ops, rounds, load, samples },
    notes: [
      `${NAME}: PostgreSQL (durable cluster on 127.0.0.1, fsync on) against SQLite (WAL, synchronous=NORMAL) as baseline; ${ops} operations, ${tasks} tasks, ${rounds} round(s), medians; load after ${load}.`,
    ],
  };
}

main(run);
