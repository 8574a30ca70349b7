/**
 * The task counts per batch and state kept as counters by triggers (migration 6): after any
 * sequence of task insertions, state changes, step saves, deletions, rolled-back transactions,
 * restarts and crashes (the file and its log copied mid-run, as a killed process leaves them),
 * `countsByBatch()` equals a GROUP BY over the tasks. And a file at schema 5 gains them.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { emptyCounts, SqliteStore, TASK_STATES, TaskState } from '../../src/fleet';
import { downgrade } from './old-schema';
import { CrashableStore } from './crashable-store';
import { insertBatch, newTask } from './task-rows';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 606;

type Step =
  | { kind: 'insert'; batch: number; devices: number; state: TaskState }
  | { kind: 'change'; pick: number; state: TaskState }
  | { kind: 'step'; pick: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'move'; pick: number; batch: number; state: TaskState | null }
  | { kind: 'abort'; pick: number; state: TaskState }
  | { kind: 'restart' }
  | { kind: 'kill'; pick: number; state: TaskState; committed: boolean };

const state = fc.constantFrom(...TASK_STATES);
const pick = fc.nat();
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      batch: fc.nat({ max: 2 }),
      devices: fc.integer({ min: 1, max: 8 }),
      state,
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('change' as const), pick, state }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('step' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('move' as const),
      pick,
      batch: fc.nat({ max: 2 }),
      state: fc.option(state, { nil: null }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick, state }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill' as const), pick, state, committed: fc.boolean() }) },
);

class Crash extends Error {}

/** The counts a GROUP BY over the tasks gives, in countsByBatch's shape (no batch without tasks). */
function groupedCounts(db: Database.Database): Map<number, Record<TaskState, number>> {
  const map = new Map<number, Record<TaskState, number>>();
  const rows = db.prepare('SELECT batch_id, state, COUNT(*) AS n FROM tasks GROUP BY batch_id, state').all() as {
    batch_id: number;
    state: TaskState;
    n: number;
  }[];
  for (const r of rows) {
    if (!map.has(r.batch_id)) map.set(r.batch_id, emptyCounts());
    map.get(r.batch_id)![r.state] = r.n;
  }
  return map;
}

const sorted = (m: Map<number, Record<TaskState, number>>) => [...m.entries()].sort((a, b) => a[0] - b[0]);

class Run extends CrashableStore {
  constructor() {
    super('ota-batch-counts-');
  }

  private readonly batches: number[] = [];
  private names = 0;

  private batchId(index: number): number {
    while (this.batches.length <= index) this.batches.push(insertBatch(this.store));
    return this.batches[index];
  }

  private ids(): number[] {
    return (this.checker.prepare('SELECT id FROM tasks ORDER BY id').all() as { id: number }[]).map((r) => r.id);
  }

  private change(p: number, s: TaskState): void {
    const ids = this.ids();
    if (ids.length === 0) return;
    const task = this.store.task(ids[p % ids.length])!;
    this.store.saveTask({ ...task, state: s, updatedAt: task.updatedAt + 1 });
  }

  apply(s: Step): void {
    switch (s.kind) {
      case 'insert': {
        const batchId = this.batchId(s.batch);
        const tasks = Array.from({ length: s.devices }, () => newTask(batchId, `d${++this.names}`, s.state));
        return this.store.transaction(() => this.store.insertTasks(tasks));
      }
      case 'change':
        return this.change(s.pick, s.state);
      case 'step': {
        const ids = this.ids();
        if (ids.length) this.store.saveStep(ids[s.pick % ids.length], 50, 2);
        return;
      }
      case 'delete': {
        // An operator's sqlite3 deletes a task row: the triggers count it all the same.
        const ids = this.ids();
        if (ids.length) this.checker.prepare('DELETE FROM tasks WHERE id = ?').run(ids[s.pick % ids.length]);
        return;
      }
      case 'move': {
        // An operator's sqlite3 moves a task to another batch, keeping or changing its state.
        const ids = this.ids();
        if (!ids.length) return;
        const to = this.batchId(s.batch);
        this.checker
          .prepare('UPDATE tasks SET batch_id = ?, state = coalesce(?, state) WHERE id = ?')
          .run(to, s.state, ids[s.pick % ids.length]);
        return;
      }
      case 'abort':
        should(() =>
          this.store.transaction(() => {
            this.change(s.pick, s.state);
            throw new Crash('midway');
          }),
        ).throw(Crash);
        return;
      case 'restart':
        return this.reopen(this.file);
      case 'kill':
        return this.killAfter(s.committed, () => this.change(s.pick, s.state));
    }
  }

  check(): void {
    should(sorted(this.store.countsByBatch())).eql(sorted(groupedCounts(this.checker)));
    for (const id of this.batches) {
      should(this.store.countsByBatch(id).get(id) ?? emptyCounts()).eql(
        groupedCounts(this.checker).get(id) ?? emptyCounts(),
      );
    }
  }
}

describe('the SQLite store: task counts per batch kept as counters', function () {
  // Property runs on files of their own: seconds, more on a busy disk.
  this.timeout(60_000);
  it('the counts always equal a GROUP BY of the tasks, whatever is inserted, changed, deleted, rolled back or crashed (150 runs)', function () {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        const run = new Run();
        try {
          for (const s of steps) {
            run.apply(s);
            run.check();
          }
        } finally {
          run.close();
        }
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('a file at schema 5 gains counters equal to a GROUP BY of its tasks, and keeps them from then on', function () {
    const dir = mkdtempSync(join(tmpdir(), 'ota-batch-counts-mig-'));
    try {
      const file = join(dir, 'fleet.sqlite');
      let store = new SqliteStore(file);
      const one = insertBatch(store);
      const two = insertBatch(store);
      store.insertTasks([
        newTask(one, 'a', 'QUEUED'),
        newTask(one, 'b', 'QUEUED'),
        newTask(one, 'c', 'SUCCEEDED'),
        newTask(two, 'a', 'FAILED'),
      ]);
      store.close();
      downgrade(file, 5);
      const old = new Database(file);
      should(old.prepare("SELECT name FROM sqlite_master WHERE name = 'batch_counts'").get()).be.undefined();
      old.close();

      store = new SqliteStore(file);
      should(store.countsByBatch().get(one)).eql({ ...emptyCounts(), QUEUED: 2, SUCCEEDED: 1 });
      should(store.countsByBatch().get(two)).eql({ ...emptyCounts(), FAILED: 1 });
      const task = store.tasksOf(one, { state: 'QUEUED', limit: 1 })[0];
      store.saveTask({ ...task, state: 'NOTIFIED' });
      should(store.countsByBatch(one).get(one)).eql({ ...emptyCounts(), QUEUED: 1, NOTIFIED: 1, SUCCEEDED: 1 });
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
